"""The unsupervised configs: hyperparameters of docs/en/recipes.md §5 and
§6, each ablation switching exactly its part off, every head buildable."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmvireid.registry import MODELS

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')
SPCL = 'spcl_id/spcl_id_r50_sysu.py'
# config -> (dataset, eps, iterations per epoch)
CONFIGS = {
    'cluster_contrast/cluster_contrast_r50_sysu.py': ('SYSUMM01Dataset', 0.6,
                                                      200),
    'cluster_contrast/cluster_contrast_r50_regdb.py': ('RegDBDataset', 0.3,
                                                       100),
    'cluster_contrast/cluster_contrast_r18_synthetic_sysu.py':
    ('SYSUMM01Dataset', None, 30),
    SPCL: ('SYSUMM01Dataset', 0.6, 200),
    'spcl_id/spcl_id_r50_regdb.py': ('RegDBDataset', 0.3, 100),
    'spcl_id/spcl_id_r50_sysu_wo_soft_prototypes.py': ('SYSUMM01Dataset',
                                                       0.6, 200),
    'spcl_id/spcl_id_r50_sysu_wo_soft_weighting.py': ('SYSUMM01Dataset', 0.6,
                                                      200),
    'spcl_id/spcl_id_r50_sysu_wo_instance.py': ('SYSUMM01Dataset', 0.6, 200),
    'spcl_id/spcl_id_r50_sysu_wo_progressive.py': ('SYSUMM01Dataset', 0.6,
                                                   200),
    'spcl_id/spcl_id_r18_synthetic_sysu.py': ('SYSUMM01Dataset', None, 30),
    'spcl_id/spcl_id_vit-base-p16_sysu.py': ('SYSUMM01Dataset', 0.6, 200),
    'spcl_id/spcl_id_convnext-tiny_sysu.py': ('SYSUMM01Dataset', 0.6, 200),
}
# configs that swap the ResNet-50 for another backbone (the model infers
# head.in_channels: test_all_configs.py builds it) -> the wrapped backbone
BACKBONE_SWAPS = {
    'spcl_id/spcl_id_vit-base-p16_sysu.py': 'VisionTransformer',
    'spcl_id/spcl_id_convnext-tiny_sysu.py': 'ConvNeXt',
}


def load(name):
    return Config.fromfile(osp.join(ROOT, name))


def hook(cfg, kind):
    found = [h for h in cfg.custom_hooks if h['type'] == kind]
    return found[0] if found else None


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
        for folder in ('spcl_id', 'cluster_contrast')
        for p in glob.glob(osp.join(ROOT, folder, '*.py'))
    }
    assert on_disk == set(CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_hyperparameters(name):
    dataset, eps, iters = CONFIGS[name]
    cfg = load(name)
    loader = cfg.train_dataloader
    sampler = loader.sampler
    assert sampler.type == 'PseudoLabelSampler'
    assert loader.batch_size == sampler.num_pids * 2 * sampler.num_instances
    assert sampler.iters_per_epoch == iters
    assert loader.dataset.type == dataset
    clustering = hook(cfg, 'ClusteringHook')
    # the extraction reads the training images as the test loader does
    assert clustering.pipeline == cfg.test_dataloader.dataset.pipeline
    # from scratch, the synthetic configs take a larger learning rate
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=3.5e-4 if eps else 1e-3, weight_decay=5e-4)
    # the modality tricks of docs/en/recipes.md §2, after the flip
    types = [t['type'] for t in loader.dataset.pipeline]
    assert types[3:7] == [
        'RandomFlip', 'ChannelExchange', 'ModalityRandomGrayscale',
        'ChannelAdapGray'
    ]
    head = cfg.model.head
    assert head.type == 'SPCLHead'
    assert (head.progressive is None) == (hook(
        cfg, 'ProgressiveScheduleHook') is None)
    if eps is not None:  # the real-data configs
        assert (clustering.k1, clustering.k2) == (30, 6)
        assert clustering.eps == eps and clustering.min_samples == 4
        assert sampler.num_instances == 16
        resize = cfg.train_dataloader.dataset.pipeline[1]
        assert resize.scale == (144, 288)
        assert cfg.param_scheduler == [
            dict(type='StepLR', by_epoch=True, step_size=20, gamma=0.1)
        ]
        wrapped = cfg.model.backbone.backbone
        assert wrapped.type == BACKBONE_SWAPS.get(name, 'ResNet')
        assert name in BACKBONE_SWAPS or wrapped.depth == 50
    if name in BACKBONE_SWAPS:
        assert head.in_channels is None
    else:
        built = MODELS.build(head)
        assert built.in_channels == head.in_channels


def test_ablations_switch_off_exactly_their_part():
    full = flatten(load(SPCL).model.head)
    changes = {
        'spcl_id/spcl_id_r50_sysu_wo_soft_prototypes.py': {
            'loss_intra.alpha': 1.0,
            'loss_cross.alpha': 1.0
        },
        'spcl_id/spcl_id_r50_sysu_wo_soft_weighting.py': {
            'loss_intra.soft_weighting': False,
            'loss_cross.soft_weighting': False
        },
        'spcl_id/spcl_id_r50_sysu_wo_progressive.py': {
            'progressive': None
        },
    }
    for name, changed in changes.items():
        head = flatten(load(name).model.head)
        assert {k: v for k, v in head.items() if full.get(k, '?') != v} \
            == changed, name
    head = load('spcl_id/spcl_id_r50_sysu_wo_instance.py').model.head
    assert head.loss_instance is None and head.progressive is None
    assert head.loss_intra == load(SPCL).model.head.loss_intra


def test_baseline_is_cluster_contrast_with_association():
    head = load('cluster_contrast/cluster_contrast_r50_sysu.py').model.head
    assert head.loss_intra.type == head.loss_cross.type == \
        'ClusterContrastLoss'
    assert head.loss_instance is None and head.progressive is None
    assert MODELS.build(head).memory.instance_memory is None


def test_synthetic_baseline_differs_from_spcl_id_in_the_head_only():
    spcl = load('spcl_id/spcl_id_r18_synthetic_sysu.py')
    baseline = load('cluster_contrast/cluster_contrast_r18_synthetic_sysu.py')
    assert baseline.custom_hooks == [hook(spcl, 'ClusteringHook')]
    for key in ('train_dataloader', 'param_scheduler', 'train_cfg',
                'optim_wrapper'):
        assert baseline[key] == spcl[key], key
    assert baseline.model.backbone == spcl.model.backbone
