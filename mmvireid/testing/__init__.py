"""Test and benchmark scaffolding: synthetic datasets in the official
layouts and the SYSU-MM01 ``rand_perm_cam.mat`` writer (as
``mmengine.testing``, kept out of the runtime packages)."""
from .synthetic_vireid import (LAYOUTS, PRESETS, make_synthetic_vireid,
                               preset_kwargs)
from .sysu_rand_perm_cam import write_rand_perm_cam

__all__ = [
    'LAYOUTS', 'PRESETS', 'make_synthetic_vireid', 'preset_kwargs',
    'write_rand_perm_cam'
]
