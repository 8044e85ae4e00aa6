"""The AGW and MCLNet configs are their released recipes (data, batches,
validation, model parts); MCLNet's model specifics are in
test_mclnet_configs.py."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS
from PIL import Image

from mmvireid.registry import MODELS, TRANSFORMS
from mmvireid.structures import IR, RGB

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# config -> (P, grayscale modalities, erasing)
RECIPES = {
    'agw/agw_r50_sysu.py': (8, None, False),
    'agw/agw_r50_regdb.py': (8, None, False),
    'agw/agw_r50_llcm.py': (8, None, False),
    'mclnet/mclnet_r50_sysu.py': (4, (RGB, ), True),
    'mclnet/mclnet_r50_regdb.py': (4, (RGB, ), True),
    'mclnet/mclnet_r50_llcm.py': (4, (RGB, IR), True),
}
PROTOCOL = {
    'SYSUMM01Dataset': 'sysu',
    'RegDBDataset': 'regdb',
    'LLCMDataset': 'llcm'
}


def load(name):
    return Config.fromfile(osp.join(REPO, 'configs', name))


def without_pretrained(cfg):
    """The model config without its ``Pretrained`` init (no download)."""
    cfg = copy.deepcopy(cfg)
    cfg['backbone']['backbone'].pop('init_cfg', None)
    return cfg


@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    """A JPEG whose size is not 144x288, with detail for LANCZOS to show."""
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (32, 16, 3)), np.ones((10, 7, 1)))
    pixels = np.clip(smooth + rng.normal(0, 20, smooth.shape), 0,
                     255).astype(np.uint8)
    path = str(tmp_path_factory.mktemp('img') / 'cam1_0001_0001.jpg')
    Image.fromarray(pixels).save(path, quality=90)
    return path


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_images_are_decoded_and_resized_as_pil_lanczos(name, photo):
    """The community pre-processing (pre_process_sysu.py L55-56, the test
    loaders): PIL decoding, Image.resize((144, 288), LANCZOS). The config's
    pipelines give those pixels (BGR) before the random steps."""
    cfg = load(name)
    expected = np.asarray(
        Image.open(photo).convert('RGB').resize(
            (144, 288), Image.LANCZOS))[..., ::-1]
    for pipeline in (cfg.train_dataloader.dataset.pipeline,
                     cfg.test_dataloader.dataset.pipeline):
        first_two = Compose([TRANSFORMS.build(t) for t in pipeline[:2]])
        img = first_two(dict(img_path=photo, modality=RGB))['img']
        assert img.dtype == np.uint8
        assert np.array_equal(img, expected)
    test = cfg.test_dataloader.dataset.pipeline
    assert [t['type'] for t in test] == [
        'LoadVIReIDImage', 'Resize', 'PackVIReIDInputs'
    ]
    # bilinear (the dataset base's default) differs
    bilinear = TRANSFORMS.build(
        dict(type='Resize', scale=(144, 288), keep_ratio=False))
    loaded = TRANSFORMS.build(
        dict(type='LoadVIReIDImage', imdecode_backend='pillow'))(
            dict(img_path=photo))
    assert not np.array_equal(bilinear(loaded)['img'], expected)


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_training_pipeline_batches_and_validation(name):
    num_pids, gray, erasing = RECIPES[name]
    cfg = load(name)
    pipeline = cfg.train_dataloader.dataset.pipeline
    types = [t['type'] for t in pipeline]
    expected = ['LoadVIReIDImage', 'Resize', 'RandomCrop'] + (
        ['ModalityRandomGrayscale'] if gray else []) + [
            'RandomFlip', 'PackVIReIDInputs'
        ]
    assert types == expected
    crop = pipeline[2]
    assert crop['crop_size'] == (288, 144) and crop['padding'] == 10
    if gray:
        transform = TRANSFORMS.build(pipeline[3])
        assert transform.modalities == gray
        assert transform.prob == 0.5 and transform.gray_backend == 'pillow'
    augments = cfg.data_preprocessor.get('batch_augments')
    if erasing:
        assert augments == [
            dict(type='BatchRandomErasing', prob=0.5, scale=(0.02, 0.33),
                 ratio=(0.3, 3.3), value=0.)
        ]
    else:
        assert not augments
    sampler = cfg.train_dataloader.sampler
    assert sampler.num_pids == num_pids and sampler.num_instances == 4
    assert sampler.replace
    assert cfg.train_dataloader.batch_size == num_pids * 2 * 4
    # one gallery draw while training, the best rank-1 kept; ten at test
    assert cfg.val_evaluator.num_trials == 1
    assert cfg.test_evaluator.get('num_trials', 10) == 10
    protocol = PROTOCOL[cfg.test_dataloader.dataset.type]
    assert cfg.val_evaluator.protocol == cfg.test_evaluator.protocol \
        == protocol
    assert cfg.default_hooks.checkpoint.save_best.startswith(protocol)
    assert cfg.default_hooks.checkpoint.save_best.endswith('/R1')
    assert cfg.train_cfg.val_interval == 2
    assert cfg.model.flip_test is False
    assert cfg.model.head.bnneck_init_std == 0.01


@pytest.mark.parametrize('name', ['agw/agw_r50_sysu.py',
                                  'mclnet/mclnet_r50_sysu.py'])
def test_warm_up_is_stepped_once_per_epoch(name):
    """lr x (e + 1) / 10 in epoch e < 10, constant within an epoch, x0.1
    from epoch 20, x0.01 from 50 (AGW train.py L218-233, MCLNet
    optimizer.py L4-18); replayed as ParamSchedulerHook steps them."""
    cfg = load(name)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    schedulers = [
        PARAM_SCHEDULERS.build(
            copy.deepcopy(s), default_args=dict(optimizer=optimizer,
                                                epoch_length=3))
        for s in cfg.param_scheduler
    ]
    assert all(s.by_epoch for s in schedulers)
    for epoch in range(60):
        released = 0.1 * ((epoch + 1) / 10 if epoch < 10 else
                          1 if epoch < 20 else 0.1 if epoch < 50 else 0.01)
        for _ in range(3):
            assert optimizer.param_groups[0]['lr'] == pytest.approx(released)
            optimizer.step()
        for s in schedulers:
            s.step()
    epochs = 81 if name.startswith('agw') else 151
    assert cfg.train_cfg.max_epochs == epochs


@pytest.mark.parametrize('name', sorted(n for n in RECIPES if 'agw' in n))
def test_agw_has_five_non_local_blocks(name):
    """--method agw: non-local blocks after blocks 2, 3 of layer2 and 3, 4, 5
    of layer3, one inter channel each; GeM, BN-neck, ID + WRT triplet."""
    cfg = load(name)
    model = MODELS.build(without_pretrained(cfg.model.to_dict()))
    non_local = model.backbone.non_local
    assert {k: len(v) for k, v in non_local.items()} == {
        'layer2': 2,
        'layer3': 3
    }
    assert [b.in_channels for b in non_local['layer2']] == [512, 512]
    assert [b.in_channels for b in non_local['layer3']] == [1024] * 3
    assert all(b.inter_channels == 1 for s in non_local.values() for b in s)
    assert model.backbone.num_specific_stages == 0
    assert type(model.neck).__name__ == 'GeneralizedMeanPooling'
    assert model.neck.p.item() == 3.0
    assert model.head.loss_triplet.mining == 'weighted'
    assert cfg.model.backbone.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='torchvision://resnet50')
