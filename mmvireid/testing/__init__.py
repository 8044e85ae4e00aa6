"""Test and benchmark scaffolding, kept out of the runtime packages (as
``mmengine.testing``): synthetic datasets in the official layouts, the
SYSU-MM01 ``rand_perm_cam.mat`` writer and the dense k-reciprocal Jaccard
reference."""
from .dense_jaccard import dense_jaccard, dense_knn
from .synthetic_vireid import LAYOUTS, make_synthetic_vireid
from .sysu_rand_perm_cam import write_rand_perm_cam

__all__ = [
    'LAYOUTS', 'make_synthetic_vireid', 'write_rand_perm_cam',
    'dense_jaccard', 'dense_knn'
]
