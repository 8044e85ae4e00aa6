"""The ADCA and PGM configs hold the values of their released code
(docs/en/recipes.md §5; the recipe tables of configs/adca/README.md and
configs/pgm/README.md), and each stage 2 changes exactly its parts."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmvireid.registry import FUNCTIONS, MODELS, TRANSFORMS

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')

# config -> (momentum, mode, cross weight, association, aggregation, eps,
# iterations per epoch, epochs, StepLR step, stage-1 checkpoint)
RECIPES = {
    'adca/adca_r50_sysu_stage1.py':
    (0.1, 'mean', None, 'hungarian', None, 0.6, 200, 50, 20, None),
    'adca/adca_r50_sysu_stage2.py':
    (0.1, 'mean', None, 'adca', 0.1, 0.6, 200, 50, 20,
     'work_dirs/adca_r50_sysu_stage1/epoch_50.pth'),
    'adca/adca_r50_regdb_stage1.py':
    (0.1, 'mean', None, 'hungarian', None, 0.3, 100, 50, 20, None),
    'adca/adca_r50_regdb_stage2.py':
    (0.1, 'mean', None, 'adca', 0.1, 0.3, 100, 50, 20,
     'work_dirs/adca_r50_regdb_stage1/epoch_50.pth'),
    'pgm/pgm_r50_sysu_stage1.py':
    (0.2, 'mean', None, 'hungarian', None, 0.6, 200, 50, 20, None),
    'pgm/pgm_r50_sysu_stage2.py':
    (0.2, 'hard', 0.25, 'pgm', None, 0.6, 200, 70, 20,
     'work_dirs/pgm_r50_sysu_stage1/epoch_50.pth'),
    'pgm/pgm_r50_regdb_stage1.py':
    (0.2, 'mean', None, 'hungarian', None, 0.3, 100, 30, 10, None),
    'pgm/pgm_r50_regdb_stage2.py':
    (0.2, 'mean', 0.25, dict(type='pgm', symmetric=True), None, 0.3, 100,
     30, 10, 'work_dirs/pgm_r50_regdb_stage1/epoch_30.pth'),
}


def load(name):
    return Config.fromfile(osp.join(ROOT, name))


def clustering_hook(cfg):
    hook, = [h for h in cfg.custom_hooks if h['type'] == 'ClusteringHook']
    return hook


def flatten(cfg, prefix=''):
    if isinstance(cfg, dict):
        out = {}
        for key, value in cfg.items():
            out.update(flatten(value, f'{prefix}{key}.'))
        return out
    return {prefix[:-1]: cfg}


def test_every_config_is_covered():
    on_disk = {
        osp.relpath(p, ROOT)
        for folder in ('adca', 'pgm')
        for p in glob.glob(osp.join(ROOT, folder, '*.py'))
    }
    assert on_disk == set(RECIPES)


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_released_values(name):
    (momentum, mode, cross, association, aggregation, eps, iters, epochs,
     step, load_from) = RECIPES[name]
    cfg = load(name)
    head = cfg.model.head
    assert head.cluster_memory.momentum == momentum
    assert head.cluster_memory.mode == mode
    assert head.cluster_memory.temperature == 0.05
    assert head.loss_intra.type == 'ClusterContrastLoss'
    assert head.loss_instance is None and head.progressive is None
    if cross is None:
        assert head.loss_cross is None
    else:
        assert head.loss_cross == dict(type='ClusterContrastLoss',
                                       loss_weight=cross)
        assert head.cross_direction == 'alternate'
        assert head.cross_memory_update
        # the alternation follows the epoch the hook hands over
        assert any(h['type'] == 'ProgressiveScheduleHook'
                   for h in cfg.custom_hooks)
    assert head.get('memory_aggregation') == aggregation
    hook = clustering_hook(cfg)
    assert hook.get('association', 'hungarian') == association
    assert (hook.k1, hook.k2, hook.eps, hook.min_samples) == (30, 6, eps, 4)
    assert hook.flip_fusion == 'mean_of_normalized'
    loader = cfg.train_dataloader
    sampler = loader.sampler
    assert sampler.num_pids == dict(rgb=8, ir=16)
    assert sampler.num_instances == 16 and sampler.camera_aware
    assert sampler.iters_per_epoch == iters
    assert loader.batch_size == (8 + 16) * 16
    assert FUNCTIONS.get(loader.collate_fn.type.split('.', 1)[1]) is not None
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=3.5e-4, weight_decay=5e-4)
    assert cfg.param_scheduler == [
        dict(type='StepLR', by_epoch=True, step_size=step, gamma=0.1)
    ]
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.load_from == load_from
    # two views of every RGB image (the second channel-exchanged), one of
    # every IR image; the transforms build
    views = loader.dataset.pipeline[1]
    assert views.type == 'ModalityViews'
    assert len(views.views.rgb) == 2 and len(views.views.ir) == 1
    assert [t['type'] for t in views.views.rgb[1]][-2:] == [
        'ChannelExchange', 'PackVIReIDInputs'
    ]
    assert views.views.rgb[1][-2].gray == 2
    TRANSFORMS.build(views)
    built = MODELS.build(head)
    assert built.memory.aggregation == aggregation


@pytest.mark.parametrize('method, dataset', [('adca', 'sysu'),
                                             ('adca', 'regdb'),
                                             ('pgm', 'sysu'),
                                             ('pgm', 'regdb')])
def test_stage_2_changes_its_parts_only(method, dataset):
    stage1 = load(f'{method}/{method}_r50_{dataset}_stage1.py')
    stage2 = load(f'{method}/{method}_r50_{dataset}_stage2.py')
    first, second = (flatten(cfg.model.head) for cfg in (stage1, stage2))
    changed = {k: v for k, v in second.items() if first.get(k, '?') != v}
    if method == 'adca':
        assert changed == {'memory_aggregation': 0.1}
    else:
        expected = {
            'loss_cross.type': 'ClusterContrastLoss',
            'loss_cross.loss_weight': 0.25,
            'cross_direction': 'alternate',
            'cross_memory_update': True
        }
        if dataset == 'sysu':  # the RegDB run keeps the mean update
            expected['cluster_memory.mode'] = 'hard'
        assert changed == expected
    assert stage2.model.backbone == stage1.model.backbone
    hook1, hook2 = (clustering_hook(cfg) for cfg in (stage1, stage2))
    assert {k: v for k, v in hook2.items() if hook1.get(k) != v} == {
        'association': hook2.association
    }
    # PGM on SYSU-MM01 drops the IR ColorJitter in stage 2
    jitter = [
        'ColorJitter' in [
            t['type']
            for t in cfg.train_dataloader.dataset.pipeline[1].views.ir[0]
        ] for cfg in (stage1, stage2)
    ]
    assert jitter == [(method, dataset) == ('pgm', 'sysu'), False]
