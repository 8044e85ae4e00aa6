from .modality_routing import route_by_modality
from .occurrence_rank import occurrence_rank
from .precision import float32_forward
from .progressive_weight import progressive_weight
from .resizable_buffers import resize_buffers

__all__ = [
    'float32_forward', 'occurrence_rank', 'progressive_weight',
    'resize_buffers', 'route_by_modality'
]
