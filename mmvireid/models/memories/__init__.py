from .base_memory import BaseMemory, all_gather_batch
from .cluster_memory import ClusterMemory
from .instance_memory import InstanceMemory

__all__ = ['BaseMemory', 'all_gather_batch', 'ClusterMemory', 'InstanceMemory']
