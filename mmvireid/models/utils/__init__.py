from .all_gather_batch import all_gather_batch
from .modality_routing import route_by_modality
from .occurrence_rank import occurrence_rank
from .progressive_weight import progressive_weight
from .resizable_buffers import resize_buffers

__all__ = [
    'all_gather_batch', 'occurrence_rank', 'progressive_weight',
    'resize_buffers', 'route_by_modality'
]
