from .clustering_hook import ClusteringHook
from .progressive_schedule_hook import ProgressiveScheduleHook

__all__ = ['ClusteringHook', 'ProgressiveScheduleHook']
