"""Every config parses, names registered modules and builds its model."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmvireid.models import VIReIDDataPreprocessor
from mmvireid.registry import DATASETS, METRICS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
#: mean and std of the images each config's pretrained weights were
#: trained on: ImageNet's, but for the ViT-B/16 weights (ImageNet-21k,
#: mmpretrain's 3rd-party conversion), which expect 127.5.
IMAGENET = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])
NORMALISATION = {'vit-base-p16': ([127.5] * 3, [127.5] * 3)}
PROTOCOL = {
    'SYSUMM01Dataset': 'sysu',
    'RegDBDataset': 'regdb',
    'LLCMDataset': 'llcm'
}


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmvireid'
    train_set = cfg.train_dataloader.dataset
    assert DATASETS.get(train_set.type) is not None
    test_set = cfg.test_dataloader.dataset
    assert test_set.split == 'test' and train_set.split == 'train'
    assert METRICS.get(cfg.test_evaluator.type) is not None
    assert cfg.test_evaluator.protocol == PROTOCOL[test_set.type]
    # the model builds as the Runner builds it, the top-level
    # data_preprocessor of the dataset base configuring the model's own
    # (pretrained weights are loaded by init_weights only)
    assert 'data_preprocessor' not in cfg.model
    model_cfg = cfg.model.to_dict()
    model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    assert model.head is not None
    preprocessor = model.data_preprocessor
    assert isinstance(preprocessor, VIReIDDataPreprocessor)
    assert preprocessor.to_rgb
    mean, std = next((value for key, value in NORMALISATION.items()
                      if key in osp.basename(path)), IMAGENET)
    torch.testing.assert_close(preprocessor.mean.flatten(),
                               torch.tensor(mean))
    torch.testing.assert_close(preprocessor.std.flatten(), torch.tensor(std))
