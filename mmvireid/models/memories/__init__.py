from .base_memory import BaseMemory
from .cluster_bank import ClusterBank, select_soft_prototypes
from .cluster_memory import ClusterMemory
from .cross_modal_memory import CrossModalMemory
from .instance_memory import InstanceMemory

__all__ = [
    'BaseMemory', 'ClusterMemory', 'InstanceMemory', 'CrossModalMemory',
    'ClusterBank', 'select_soft_prototypes'
]
