import os.path as osp

import pytest
from mmengine.config import Config

from mmvireid.testing import make_synthetic_vireid

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SYNTHETIC_SPCL = osp.join(REPO, 'configs', 'spcl_id',
                          'spcl_id_r18_synthetic_sysu.py')


@pytest.fixture(scope='session')
def unsup_tree(tmp_path_factory):
    """A tiny synthetic SYSU-MM01 tree: 6 train ids, 30 RGB + 20 IR train
    images of 32x16."""
    return make_synthetic_vireid(
        str(tmp_path_factory.mktemp('unsup_sysu')),
        'sysu',
        seed=0,
        num_train_ids=6,
        num_test_ids=4,
        num_imgs_per_cam=2,
        img_size=(32, 16))


@pytest.fixture
def unsup_cfg(unsup_tree, tmp_path):
    """Make the synthetic SPCL-ID config tiny: 32x16 input, 2 clusters x 4
    images per modality, 2 iterations an epoch, no validation, no random
    augmentation (a run is a deterministic function of the seed)."""

    def make(max_epochs=1, work_dir='work', **hook):
        cfg = Config.fromfile(SYNTHETIC_SPCL)
        pipeline = [
            dict(type='LoadVIReIDImage'),
            dict(type='Resize', scale=(16, 32), keep_ratio=False),
            dict(type='PackVIReIDInputs'),
        ]
        cfg.work_dir = str(tmp_path / work_dir)
        cfg.train_dataloader.update(
            batch_size=16, num_workers=0, persistent_workers=False)
        cfg.train_dataloader.sampler.update(
            num_pids=2, num_instances=4, iters_per_epoch=2, seed=0)
        cfg.train_dataloader.dataset.update(
            data_root=unsup_tree, pipeline=pipeline)
        cfg.custom_hooks[0].update(
            dict(
                pipeline=pipeline,
                min_samples=2,
                dataloader=dict(batch_size=16, num_workers=0)), **hook)
        cfg.train_cfg.max_epochs = max_epochs
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=1, max_keep_ckpts=-1)
        cfg.default_hooks.logger.interval = 1
        return cfg

    return make
