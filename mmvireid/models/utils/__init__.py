from .occurrence_rank import occurrence_rank
from .progressive_weight import progressive_weight

__all__ = ['occurrence_rank', 'progressive_weight']
