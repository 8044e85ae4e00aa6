from .eval_vireid import PROTOCOLS, eval_vireid, removal_mask
from .gallery_trials import GALLERY_MODES, draw_gallery

__all__ = [
    'eval_vireid', 'PROTOCOLS', 'removal_mask', 'draw_gallery', 'GALLERY_MODES'
]
