from .broadcast_buffers_hook import BroadcastBuffersHook
from .check_train_config_hook import CheckTrainConfigHook
from .clustering_hook import ClusteringHook
from .epoch_seed_hook import EpochSeedHook
from .progressive_schedule_hook import ProgressiveScheduleHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .visualization_hook import VIReIDVisualizationHook

__all__ = [
    'BroadcastBuffersHook', 'CheckTrainConfigHook', 'ClusteringHook',
    'EpochSeedHook', 'ProgressiveScheduleHook', 'SafeCheckpointHook',
    'VIReIDVisualizationHook'
]
