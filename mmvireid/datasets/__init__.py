from .base_vireid_dataset import BaseVIReIDDataset
from .collate import multi_view_collate
from .concat_vireid_dataset import VIReIDConcatDataset
from .llcm import LLCMDataset
from .regdb import RegDBDataset
from .samplers import *  # noqa: F401,F403
from .sysu_mm01 import SYSUMM01Dataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'BaseVIReIDDataset', 'LLCMDataset', 'RegDBDataset', 'SYSUMM01Dataset',
    'VIReIDConcatDataset', 'multi_view_collate'
]
