"""The analysis tools' shared helpers (tools/analysis_tools/tool_utils.py)."""
import os.path as osp

import pytest
from mmengine.config import Config
from tool_utils import evaluator_protocol, split_dataloader_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_split_dataloader_cfg_reads_train_with_the_test_pipeline():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'agw', 'agw_r50_sysu.py'))
    test = split_dataloader_cfg(cfg, 'test')
    assert test == cfg.test_dataloader
    train = split_dataloader_cfg(cfg, 'train')
    assert train['dataset']['split'] == 'train'
    assert train['dataset']['pipeline'] == cfg.test_dataloader.dataset.pipeline
    assert train['sampler'] == cfg.test_dataloader.sampler
    with pytest.raises(ValueError, match='split must be one of'):
        split_dataloader_cfg(cfg, 'val')
    cfg.train_dataloader = None
    with pytest.raises(ValueError, match='has no train_dataloader'):
        split_dataloader_cfg(cfg, 'train')


def test_evaluator_protocol():
    cfg = Config(
        dict(test_evaluator=dict(
            type='VIReIDMetric', protocol='llcm', num_trials=3)))
    found = evaluator_protocol(cfg)
    assert found['protocol'] == 'llcm' and found['num_trials'] == 3
    assert [s['name'] for s in found['settings']] == ['vis2nir', 'nir2vis']
    assert found['settings'][0]['num_trials'] == 3
    assert found['rerank'] is None and found['gallery_draw'] == 'random'
    cfg = Config(
        dict(test_evaluator=dict(
            type='VIReIDMetric', protocol='sysu', gallery_draw='official',
            rerank=dict(k1=10, k2=3, lambda_value=0.2))))
    found = evaluator_protocol(cfg)
    assert found['gallery_draw'] == 'official'
    assert found['rand_perm_file'] == 'exp/rand_perm_cam.mat'
    assert found['rerank'] == dict(k1=10, k2=3, lambda_value=0.2)
    cfg = Config(dict(test_evaluator=[dict(type='Accuracy')]))
    assert evaluator_protocol(cfg) == dict(protocol=None,
                                           settings=None,
                                           num_trials=None,
                                           rerank=None,
                                           gallery_draw=None,
                                           rand_perm_file=None)
