"""What a run shows: newline-clean console output when stdout is not a
terminal, the ranked lists of VIReIDVisualizationHook, --tensorboard."""
import glob
import importlib.util
import os.path as osp
import re
import sys

import mmcv
import numpy as np
import pytest
from e2e_utils import REPO, run_tool, write_tiny_config
from mmengine.config import Config

pytestmark = pytest.mark.e2e

#: The start of every MMEngine log record.
LOG_TIME = re.compile(r'\d{2}/\d{2} \d{2}:\d{2}:\d{2} - mmengine')


def load_train_tool():
    spec = importlib.util.spec_from_file_location(
        'train_tool', osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_clustering_progress_lines_end_before_the_log(tiny_sysu, tmp_path):
    config = tmp_path / 'spcl.py'
    config.write_text(f'''
_base_ = [{osp.join(REPO, 'configs', 'spcl_id',
                    'spcl_id_r18_synthetic_sysu.py')!r}]
data_root = {tiny_sysu!r}
pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(16, 32), keep_ratio=False),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=0,
    sampler=dict(num_pids=2, num_instances=4, iters_per_epoch=2),
    dataset=dict(data_root=data_root, pipeline=pipeline))
custom_hooks = [dict(type='ClusteringHook', pipeline=pipeline,
                     min_samples=2,
                     dataloader=dict(batch_size=16, num_workers=0)),
                dict(type='ProgressiveScheduleHook')]
train_cfg = dict(max_epochs=1)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
''')
    proc = run_tool(['tools/train.py', str(config), '--work-dir',
                     str(tmp_path / 'run')])
    assert '\r' not in proc.stdout and '\x1b' not in proc.stdout
    bars = [line for line in proc.stdout.splitlines()
            if 'Extracting features for clustering' in line]
    assert len(bars) == 1
    # the bar's final state alone on its line, the log goes on below it
    assert not LOG_TIME.search(bars[0])
    assert re.search(r'(\d+)/\1', bars[0])
    assert 'ClusteringHook: epoch 0' in proc.stdout


def test_ranked_lists_drawn_at_each_validation(tiny_sysu, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_sysu, max_epochs=1)
    run_tool([
        'tools/train.py', config, '--work-dir',
        str(tmp_path / 'run'), '--cfg-options', 'train_cfg.val_interval=1',
        'default_hooks.visualization.enable=True',
        'default_hooks.visualization.num_queries=3',
        'default_hooks.visualization.topk=4',
        'default_hooks.visualization.img_size=[64,32]'
    ])
    pictures = glob.glob(
        str(tmp_path / 'run' / '*' / 'vis_data' / 'vis_image' / '*.png'))
    assert [osp.basename(p) for p in pictures] == [
        'val_sysu_all_ranked_lists_1.png'
    ]
    picture = mmcv.imread(pictures[0], channel_order='rgb')
    from mmvireid.visualization import VIReIDVisualizer

    # three rows of a query (blue frame) and four gallery images framed
    # green or red: the top and bottom edges of the three blue frames are
    # the pixel rows with many blue pixels
    rows = [
        np.abs(picture.astype(int) - color).sum(axis=2) < 40
        for color in (VIReIDVisualizer.QUERY_COLOR,
                      VIReIDVisualizer.MATCH_COLOR,
                      VIReIDVisualizer.MISMATCH_COLOR)
    ]
    blue_rows = np.flatnonzero(rows[0].sum(axis=1) > 20)
    assert len(np.split(blue_rows,
                        np.flatnonzero(np.diff(blue_rows) > 1) + 1)) == 2 * 3
    assert (rows[1] | rows[2]).sum() > 3 * 4 * 2 * 64


def test_tensorboard_switch(monkeypatch):
    tool = load_train_tool()
    cfg = Config(dict(visualizer=dict(
        type='VIReIDVisualizer', vis_backends=[dict(type='LocalVisBackend')])))
    monkeypatch.setitem(sys.modules, 'tensorboard', None)
    with pytest.raises(SystemExit, match='pip install tensorboard'):
        tool.add_tensorboard(cfg)
    monkeypatch.setitem(sys.modules, 'tensorboard', object())
    tool.add_tensorboard(cfg)
    tool.add_tensorboard(cfg)  # once only
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend'
    ]
