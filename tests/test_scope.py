"""Composition across registry scopes, both directions (docs/en/openmmlab.md).

- mmvireid's parts in an mmpretrain config (``default_scope='mmpretrain'``):
  each named with ``_scope_='mmvireid'``, which builds it *and its nested
  parts* in mmvireid's scope; mmpretrain's ``ImageClassifier`` trains with
  our BN-neck head, dataset, sampler and transforms and is evaluated by our
  metric through the head's mmpretrain-style ``predict``.
- A user's modules in an mmvireid config (``default_scope='mmvireid'``):
  registered in mmvireid's registry, in mmpretrain's (a parent: found by the
  walk up) or in the user's own child registry (named ``myproj.Type``),
  imported with ``custom_imports``.
"""
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmvireid.registry import MODELS
from mmvireid.testing import make_synthetic_vireid

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def sysu_root(tmp_path_factory):
    out = tmp_path_factory.mktemp('scope_sysu')
    return make_synthetic_vireid(str(out), 'sysu', seed=0, num_train_ids=6,
                                 num_test_ids=4, num_imgs_per_cam=2,
                                 img_size=(32, 16))


def mmpretrain_config(data_root: str, work_dir: str) -> Config:
    """An mmpretrain classifier config using mmvireid's parts."""
    ours = dict(_scope_='mmvireid')
    pipeline = [
        dict(type='LoadVIReIDImage'),
        dict(type='Resize', scale=(16, 32), keep_ratio=False),
        dict(type='PackVIReIDInputs'),
    ]
    test_loader = dict(
        batch_size=16,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='SYSUMM01Dataset', data_root=data_root,
                     split='test', pipeline=pipeline, **ours))
    return Config(
        dict(
            default_scope='mmpretrain',
            work_dir=work_dir,
            model=dict(
                type='ImageClassifier',
                data_preprocessor=dict(
                    type='ClsDataPreprocessor', mean=[128] * 3,
                    std=[64] * 3, to_rgb=True),
                backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                # nested losses resolve in mmvireid's scope (TripletLoss is
                # ours, CrossEntropyLoss mmpretrain's)
                head=dict(type='BNNeckHead', in_channels=512, num_classes=6,
                          loss_triplet=dict(type='TripletLoss', margin=0.3),
                          **ours)),
            train_dataloader=dict(
                batch_size=8,
                num_workers=0,
                sampler=dict(type='CrossModalityIdentitySampler',
                             num_pids=2, num_instances=2, iters_per_epoch=2,
                             **ours),
                dataset=dict(type='SYSUMM01Dataset', data_root=data_root,
                             split='train', pipeline=pipeline, **ours)),
            train_cfg=dict(by_epoch=True, max_epochs=1, val_interval=1),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            val_dataloader=test_loader,
            val_evaluator=dict(type='VIReIDMetric', protocol='sysu',
                               num_trials=2, **ours),
            val_cfg=dict(),
            default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
            log_level='WARNING'))


def test_our_parts_in_an_mmpretrain_config(sysu_root, tmp_path):
    cfg = mmpretrain_config(sysu_root, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    head = runner.model.head
    assert type(head).__module__.startswith('mmvireid.')
    assert type(head.loss_triplet).__module__.startswith('mmvireid.')
    assert type(head.loss_id).__module__.startswith('mmpretrain.')
    runner.train()
    metrics = runner.val_loop.run()
    assert 0 <= metrics['sysu/all/mAP'] <= 100
    # what the metric read: the head's predict (mmpretrain's head API)
    runner.model.eval()
    batch = next(iter(runner.val_dataloader))
    with torch.no_grad():
        samples = runner.model.test_step(batch)
    assert samples[0].feature.shape == (512, )
    assert samples[0].pred_score.shape == (6, )


def test_a_scoped_type_builds_nested_parts_in_the_callers_scope():
    """``type='mmvireid.X'`` resolves X only; what X builds inside is looked
    up in the caller's scope: ``_scope_`` is the way (docs/en/openmmlab.md)."""
    head = dict(type='mmvireid.BNNeckHead', in_channels=8, num_classes=2,
                loss_triplet=dict(type='TripletLoss'))
    import mmpretrain.registry
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(KeyError, match='TripletLoss is not in the '
                           'mmpretrain::model registry'):
            mmpretrain.registry.MODELS.build(head)
        head['type'] = 'BNNeckHead'
        built = mmpretrain.registry.MODELS.build(
            dict(head, _scope_='mmvireid'))
    assert type(built.loss_triplet).__name__ == 'TripletLoss'


USER_MODULE = '''
import torch
from mmengine.registry import Registry
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmvireid.registry import MODELS

# a project's own scope, under mmvireid's registry
MYPROJ_MODELS = Registry('model', parent=MODELS, scope='myproj')


@MODELS.register_module()
class MaxPoolNeck(torch.nn.Module):
    """Registered in mmvireid's registry."""

    def forward(self, feats):
        return tuple(f.amax(dim=(2, 3)) for f in feats)


@MMPRETRAIN_MODELS.register_module()
class ScaledTripletLoss(torch.nn.Module):
    """Registered in mmpretrain's registry (a parent of ours)."""

    def __init__(self, scale=2.0):
        super().__init__()
        self.scale = scale

    def forward(self, feats, labels):
        return self.scale * feats.pow(2).mean()


@MYPROJ_MODELS.register_module()
class HalfBNNeckHead(MODELS.get('BNNeckHead')):
    """Registered in the user's own scope, a child of mmvireid's."""
'''


def test_a_users_modules_in_our_config(sysu_root, tmp_path, monkeypatch):
    (tmp_path / 'my_vireid_parts.py').write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / 'user_agw.py'
    config.write_text(
        textwrap.dedent(f"""
        _base_ = [{osp.join(REPO, 'configs', 'agw',
                            'agw_r18_synthetic_sysu.py')!r}]
        custom_imports = dict(imports=['my_vireid_parts'],
                              allow_failed_imports=False)
        data_root = {sysu_root!r}
        model = dict(
            neck=dict(_delete_=True, type='MaxPoolNeck'),
            head=dict(type='myproj.HalfBNNeckHead', num_classes=6,
                      loss_triplet=dict(_delete_=True,
                                        type='ScaledTripletLoss')))
        train_dataloader = dict(
            num_workers=0, sampler=dict(iters_per_epoch=2),
            dataset=dict(data_root=data_root))
        train_cfg = dict(max_epochs=1, val_interval=10)
        val_dataloader = None
        val_evaluator = None
        val_cfg = None
        test_dataloader = None
        test_evaluator = None
        test_cfg = None
        default_hooks = dict(checkpoint=dict(interval=10, save_best=None))
        log_level = 'WARNING'
        """))
    cfg = Config.fromfile(str(config))
    assert cfg.default_scope == 'mmvireid'
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    model = runner.model
    assert type(model.neck).__name__ == 'MaxPoolNeck'
    assert type(model.head).__name__ == 'HalfBNNeckHead'
    assert type(model.head.loss_triplet).__name__ == 'ScaledTripletLoss'
    runner.train()
    # and the API builds the same config
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmvireid.apis import init_model
        built = init_model(cfg)
    assert type(built.head).__name__ == 'HalfBNNeckHead'
    assert MODELS.get('MaxPoolNeck') is type(model.neck)
