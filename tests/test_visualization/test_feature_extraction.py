import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmvireid.visualization import check_checkpoint, load_matching_checkpoint
from mmvireid.visualization.feature_extraction import (evaluator_protocol,
                                                       split_dataloader_cfg)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def toy():
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))


def test_check_checkpoint_names_every_kind_of_problem():
    model = toy()
    good = model.state_dict()
    # BatchNorm's num_batches_tracked may be absent
    check_checkpoint(model, {
        k: v
        for k, v in good.items() if 'num_batches' not in k
    }, 'a.pth')
    bad = dict(good)
    del bad['1.running_var']
    bad['2.weight'] = torch.zeros(1)
    bad['0.weight'] = torch.zeros(8, 3, 1, 1)
    with pytest.raises(ValueError) as error:
        check_checkpoint(model, bad, 'a.pth', 'cfg.py')
    message = str(error.value)
    assert "checkpoint 'a.pth' does not match" in message
    assert "config 'cfg.py'" in message
    assert '1 missing weights (e.g. 1.running_var)' in message
    assert '1 unexpected weights (e.g. 2.weight)' in message
    assert ('1 shape mismatches (e.g. 0.weight: checkpoint (8, 3, 1, 1) vs '
            'model (4, 3, 1, 1))') in message


def test_load_matching_checkpoint(tmp_path):
    source, target = toy(), toy()
    nn.init.constant_(source[0].weight, 0.5)
    # a DDP checkpoint: keys prefixed with 'module.'
    state = {f'module.{k}': v for k, v in source.state_dict().items()}
    torch.save({'state_dict': state, 'meta': {}}, tmp_path / 'ddp.pth')
    load_matching_checkpoint(target, str(tmp_path / 'ddp.pth'))
    assert torch.equal(target[0].weight, source[0].weight)

    torch.save({'state_dict': {'x': 'not a tensor'}}, tmp_path / 'odd.pth')
    with pytest.raises(ValueError, match='holds no state dict'):
        load_matching_checkpoint(target, str(tmp_path / 'odd.pth'))
    with pytest.raises(FileNotFoundError, match='no such file'):
        load_matching_checkpoint(target, str(tmp_path / 'nope.pth'))


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
    cfg = Config(dict(test_evaluator=[dict(type='Accuracy')]))
    assert evaluator_protocol(cfg) == dict(protocol=None,
                                           settings=None,
                                           num_trials=None)


def test_memory_banks_may_differ_in_length_other_weights_may_not():
    import pytest as _pytest
    import torch
    from torch import nn

    from mmvireid.models.memories import ClusterMemory
    from mmvireid.visualization.feature_extraction import check_checkpoint

    model = nn.ModuleDict(dict(memory=ClusterMemory(4), fc=nn.Linear(4, 2)))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state['memory.features'] = torch.randn(3, 4)  # 3 clusters were saved
    check_checkpoint(model, state, 'ckpt.pth')
    state['fc.weight'] = torch.randn(3, 4)
    with _pytest.raises(ValueError, match='shape mismatches'):
        check_checkpoint(model, state, 'ckpt.pth')
