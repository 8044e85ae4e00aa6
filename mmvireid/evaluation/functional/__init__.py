from .gallery_trials import (GALLERY_MODES, draw_gallery, load_rand_perm_cam,
                             official_gallery, setting_indices, trial_indices)
from .rank import (PROTOCOLS, eval_vireid, evaluate_rank, removal_mask,
                   summarize_rank)
from .re_ranking import re_ranking

__all__ = [
    'evaluate_rank', 'summarize_rank', 'eval_vireid', 'PROTOCOLS',
    'removal_mask', 'trial_indices', 'setting_indices', 'draw_gallery',
    'official_gallery', 'load_rand_perm_cam', 'GALLERY_MODES', 're_ranking'
]
