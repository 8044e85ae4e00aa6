from .base_vireid_dataset import IR, MODALITY_NAMES, RGB, BaseVIReIDDataset
from .collate import multi_view_collate
from .concat_vireid_dataset import VIReIDConcatDataset
from .llcm import LLCMDataset
from .regdb import RegDBDataset
from .samplers import *  # noqa: F401,F403
from .sysu_mm01 import SYSUMM01Dataset
from .transforms import *  # noqa: F401,F403
