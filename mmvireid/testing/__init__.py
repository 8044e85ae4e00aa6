"""Test and benchmark scaffolding, kept out of the runtime packages (as
``mmengine.testing``): synthetic datasets in the official layouts (and
presets of the official sizes), the SYSU-MM01 ``rand_perm_cam.mat`` writer
and the dense k-reciprocal Jaccard reference."""
from .dense_jaccard import dense_jaccard, dense_knn
from .synthetic_vireid import (LAYOUTS, PRESETS, make_synthetic_vireid,
                               preset_kwargs)
from .sysu_rand_perm_cam import write_rand_perm_cam

__all__ = [
    'LAYOUTS', 'PRESETS', 'make_synthetic_vireid', 'preset_kwargs',
    'write_rand_perm_cam', 'dense_jaccard', 'dense_knn'
]
