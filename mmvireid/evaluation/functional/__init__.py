from .eval_vireid import PROTOCOLS, eval_vireid
from .gallery_trials import GALLERY_MODES, draw_gallery

__all__ = ['eval_vireid', 'PROTOCOLS', 'draw_gallery', 'GALLERY_MODES']
