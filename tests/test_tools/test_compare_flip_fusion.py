"""tools/analysis_tools/compare_flip_fusion.py on a tiny synthetic tree."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from sklearn.metrics import adjusted_rand_score

from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'cluster_contrast',
                  'cluster_contrast_r18_synthetic_sysu.py')


def load_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'compare_flip_fusion.py')
    spec = importlib.util.spec_from_file_location('compare_flip_fusion', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def test_compare_by_hand():
    modalities = np.array([RGB] * 6 + [IR] * 4)
    pids = np.array([0, 0, 1, 1, 2, 2, 0, 0, 1, 1])
    ours = np.array([0, 0, 1, 1, -1, -1, 0, 0, 1, 1])
    # the same RGB partition under other names; IR merged into one cluster
    theirs = np.array([1, 1, 0, 0, -1, -1, 0, 0, 0, 0])
    table = tool.compare(dict(ours=ours, theirs=theirs), pids, modalities)
    rgb, ir = table['rgb'], table['ir']
    assert rgb['ari_between'] == 1.0
    assert (rgb['clusters_ours'], rgb['outliers_ours']) == (2, 2)
    # outliers count as singletons
    assert rgb['ari_ids_ours'] == pytest.approx(
        adjusted_rand_score(pids[:6], [0, 0, 1, 1, 2, 3]))
    assert ir['clusters_theirs'] == 1
    assert ir['ari_between'] == pytest.approx(
        adjusted_rand_score([0, 0, 1, 1], [0, 0, 0, 0]))
    assert ir['ari_ids_ours'] == 1.0


def test_tool_on_a_tiny_tree(tiny_sysu, tmp_path, monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')
    with DefaultScope.overwrite_default_scope('mmvireid'):
        model = MODELS.build(Config.fromfile(CONFIG).model)
    checkpoint = str(tmp_path / 'untrained.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    options = [
        f'{key}.dataset.data_root={tiny_sysu}'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ] + [
        'test_dataloader.num_workers=0', 'custom_hooks.0.k1=4',
        'custom_hooks.0.min_samples=2', 'custom_hooks.0.eps=0.5'
    ]
    table = tool.main([
        CONFIG, checkpoint, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options'
    ] + options)
    assert set(table) == {'rgb', 'ir'}
    for row in table.values():
        assert set(row) == {
            'clusters_ours', 'outliers_ours', 'ari_ids_ours',
            'clusters_adca_pgm', 'outliers_adca_pgm', 'ari_ids_adca_pgm',
            'ari_between'
        }
        assert -1 <= row['ari_between'] <= 1
