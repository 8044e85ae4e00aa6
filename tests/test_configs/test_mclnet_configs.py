"""Every MCLNet config builds the released model (docs/en/recipes.md §3);
the synthetic config trains one step through MMEngine's Runner. The data,
batch, schedule and validation parts of the recipe: test_released_recipes.py.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from mmvireid.registry import MODELS
from mmvireid.testing import make_synthetic_vireid

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'mclnet')
SUPCON = {f'loss_supcon_s{s}' for s in range(1, 5)}
# config -> (num_classes, backbone depth, losses switched off)
CONFIGS = {
    'mclnet_r50_sysu.py': (395, 50, set()),
    'mclnet_r50_regdb.py': (206, 50, set()),
    'mclnet_r50_llcm.py': (713, 50, set()),
    'mclnet_r50_sysu_wo_supcon.py': (395, 50, {'loss_supcon'}),
    'mclnet_r50_sysu_wo_hks.py': (395, 50, {'loss_hks'}),
    'mclnet_r50_sysu_wo_mmd.py': (395, 50, {'loss_mmd'}),
    'mclnet_r18_synthetic_sysu.py': (32, 18, set()),
}


def load(name):
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def without_pretrained(cfg):
    """A copy of a config dict without ``Pretrained`` init_cfgs (nothing can
    be downloaded here)."""
    if isinstance(cfg, dict):
        return {
            k: without_pretrained(v)
            for k, v in cfg.items()
            if not (k == 'init_cfg' and isinstance(v, dict)
                    and v.get('type') == 'Pretrained')
        }
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(without_pretrained(v) for v in cfg)
    return cfg


def test_every_config_is_covered():
    on_disk = {
        osp.basename(p)
        for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))
    }
    assert on_disk == set(CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_builds_the_mclnet_model(name):
    num_classes, depth, disabled = CONFIGS[name]
    cfg = load(name)
    if depth == 50:
        assert cfg.model.backbone.backbone.init_cfg == dict(
            type='Pretrained', checkpoint='torchvision://resnet50')
    model = MODELS.build(without_pretrained(cfg.model.to_dict()))
    assert model.backbone.num_specific_stages == 2
    assert model.backbone.out_indices == (0, 1, 2, 3)
    assert model.neck.num_specific_projections == 2
    width = 2048 if depth == 50 else 512
    assert model.neck.in_channels == (width // 8, width // 4, width // 2,
                                      width)
    assert model.head.classifier.out_features == num_classes
    assert model.head.loss_triplet is None
    for loss in ('loss_mmd', 'loss_supcon', 'loss_hks'):
        assert (getattr(model.head, loss) is None) == (loss in disabled)
    if 'loss_mmd' not in disabled:
        assert model.head.loss_mmd.loss_weight == 0.25
        assert model.head.loss_mmd.kernel_num == 5
    if 'loss_supcon' not in disabled:
        assert model.head.loss_supcon.loss_weight == 5.0
        assert model.head.loss_supcon.temperature == 0.1
    if 'loss_hks' not in disabled:
        assert model.head.loss_hks.loss_weight == 5.0
        assert model.head.loss_hks.temperature == 1.0
        assert model.head.loss_hks.eps == 1e-8
    # the released model: stride-2 separable blocks everywhere (9x5 maps at
    # 288x144), average pooling (its GeM switch is off), BN-neck weight
    # ~ N(1, 0.01^2), no flip at test
    assert [model.neck.projections[0][0].strides,
            model.neck.projections[1][1].strides,
            model.neck.projections[2].strides] == [(2, 2, 2), (2, 2), (2, )]
    assert type(model.neck.pooling).__name__ == 'GlobalAveragePooling'
    assert not model.neck.eval_all_stages
    assert model.head.bnneck_init_std == 0.01
    assert model.flip_test is False


def test_regdb_trial_option_reaches_every_split():
    cfg = load('mclnet_r50_regdb.py')
    assert cfg.trial == 1
    cfg.merge_from_dict({
        'train_dataloader.dataset.trial': 3,
        'val_dataloader.dataset.trial': 3,
        'test_dataloader.dataset.trial': 3
    })
    assert [cfg[f'{split}_dataloader'].dataset.trial
            for split in ('train', 'val', 'test')] == [3, 3, 3]


def test_optimizer_groups_bnneck_and_classifier_at_10x():
    cfg = load('mclnet_r50_sysu.py')
    model = MODELS.build(without_pretrained(cfg.model.to_dict()))
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    name_of = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        name = name_of[id(group['params'][0])]
        fast = name.startswith(('head.bnneck', 'head.classifier'))
        assert group['lr'] == pytest.approx(0.1 if fast else 0.01), name
        assert group['momentum'] == 0.9 and group['nesterov']
        assert group['weight_decay'] == pytest.approx(5e-4)
    assert cfg.train_cfg.max_epochs == 151


@pytest.mark.e2e
def test_synthetic_config_trains_one_step(tmp_path):
    root = make_synthetic_vireid(
        str(tmp_path / 'data'),
        'sysu',
        seed=0,
        num_train_ids=4,
        num_test_ids=2,
        num_imgs_per_cam=1,
        img_size=(64, 32))
    cfg = load('mclnet_r18_synthetic_sysu.py')
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.sampler.iters_per_epoch = 1
    cfg.train_cfg.max_epochs = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    scalars = runner.message_hub.log_scalars
    names = {'loss_id', 'loss_mmd', 'loss_hks'} | SUPCON
    values = {n: scalars[f'train/{n}'].current() for n in names}
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())
    # the logged total is the sum of the named losses
    assert scalars['train/loss'].current() == pytest.approx(
        sum(values.values()), rel=1e-5)
    assert 'train/loss_triplet' not in scalars
    # the collapse diagnostic of every stage is logged, in [-1, 1]
    for s in range(1, 5):
        assert -1 <= scalars[f'train/cos_ones_s{s}'].current() <= 1
