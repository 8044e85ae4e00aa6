"""Every config parses, names registered modules and builds its model."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmvireid.registry import DATASETS, METRICS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
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
    # the model builds (pretrained weights are loaded by init_weights only)
    model = MODELS.build(cfg.model)
    assert model.head is not None
