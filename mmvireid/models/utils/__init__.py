from .all_gather_batch import all_gather_batch
from .modality_routing import is_exporting, route_by_modality, routing_mode
from .modality_specific import ModalitySpecific
from .occurrence_rank import occurrence_rank
from .progressive_weight import progressive_weight
from .resizable_buffers import resize_buffers

__all__ = [
    'ModalitySpecific', 'all_gather_batch', 'is_exporting',
    'occurrence_rank', 'progressive_weight', 'resize_buffers',
    'route_by_modality', 'routing_mode'
]
