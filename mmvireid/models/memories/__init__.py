from .base_memory import BaseMemory
from .cluster_bank import ClusterBank, select_soft_prototypes
from .cluster_memory import ClusterMemory
from .cross_modal_memory import CrossModalMemory
from .instance_memory import InstanceMemory
from .soft_prototype_index import SoftPrototypeIndex

__all__ = [
    'BaseMemory', 'ClusterMemory', 'InstanceMemory', 'CrossModalMemory',
    'ClusterBank', 'SoftPrototypeIndex', 'select_soft_prototypes'
]
