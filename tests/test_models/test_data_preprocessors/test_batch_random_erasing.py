"""BatchRandomErasing is torchvision's RandomErasing after Normalize."""
import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from mmpretrain.structures import DataSample

from mmvireid.models.data_preprocessors import (BatchRandomErasing,
                                                VIReIDDataPreprocessor)
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def preprocessor(**augment):
    return VIReIDDataPreprocessor(
        mean=MEAN,
        std=STD,
        to_rgb=True,
        batch_augments=[dict(type='BatchRandomErasing', **augment)])


def batch(num=8, height=288, width=144, seed=0):
    """A data loader batch: uint8 BGR images (3, H, W) and data samples."""
    gen = torch.Generator().manual_seed(seed)
    images = [
        torch.randint(0, 256, (3, height, width), generator=gen,
                      dtype=torch.uint8) for _ in range(num)
    ]
    samples = [
        DataSample(metainfo=dict(modality=RGB if i % 2 else IR))
        for i in range(num)
    ]
    return dict(inputs=images, data_samples=samples)


def test_equals_torchvision_erasing_after_normalize_for_the_same_draws():
    """With the same rectangles, the preprocessed batch is torchvision's
    ToTensor -> Normalize(ImageNet) -> erase(value 0) of each RGB image."""
    data = batch()
    torch.manual_seed(5)
    out = preprocessor()(data, training=True)['inputs']
    torch.manual_seed(5)
    erase, top, left, h, w = BatchRandomErasing().get_params(
        8, 288, 144, torch.device('cpu'))
    assert 0 < erase.sum() < 8
    for n, image in enumerate(data['inputs']):
        rgb = image.flip(0).float() / 255
        expected = TF.normalize(rgb, [m / 255 for m in MEAN],
                                [s / 255 for s in STD])
        if erase[n]:
            expected = TF.erase(expected, int(top[n]), int(left[n]),
                                int(h[n]), int(w[n]), torch.tensor(0.))
        torch.testing.assert_close(out[n], expected)
        # the erased pixels are exactly 0, the others untouched
        erased = (out[n] == 0).all(0)
        assert int(erased.sum()) == (int(h[n] * w[n]) if erase[n] else 0)


def test_rectangle_rule_by_hand():
    # one area fraction and one ratio: h = w = round(sqrt(0.25 * 100)) = 5
    erasing = BatchRandomErasing(prob=1., scale=(.25, .25), ratio=(1., 1.))
    torch.manual_seed(0)
    erase, top, left, h, w = erasing.get_params(500, 10, 10,
                                                torch.device('cpu'))
    assert erase.all()
    assert (h == 5).all() and (w == 5).all()
    assert top.min() == 0 and top.max() == 5  # uniform over 0..H - h
    assert left.min() == 0 and left.max() == 5
    inputs = torch.ones(500, 3, 10, 10)
    out, _ = erasing(inputs)
    assert ((out == 0).sum(dim=(1, 2, 3)) == 3 * 25).all()
    # half to even, as Python's round in torchvision: sqrt(25 / 64 * 16)
    # = 2.5 -> 2 (not 3)
    erasing = BatchRandomErasing(prob=1., scale=(25 / 64, 25 / 64),
                                 ratio=(1., 1.))
    assert round(2.5) == 2
    assert (erasing.get_params(4, 4, 4, torch.device('cpu'))[3] == 2).all()
    # no draw fits (h = w = 10, not < 10): the image is unchanged
    never = BatchRandomErasing(prob=1., scale=(1., 1.), ratio=(1., 1.))
    out, _ = never(inputs)
    assert torch.equal(out, inputs)


def test_distribution_matches_torchvision_get_params():
    """Two-sample Kolmogorov-Smirnov distances between our draws and
    torchvision's RandomErasing.get_params at 288 x 144 (some draws do
    not fit there)."""
    num = 3000
    torch.manual_seed(0)
    erase, top, left, h, w = BatchRandomErasing(prob=1.).get_params(
        num, 288, 144, torch.device('cpu'))
    image = torch.zeros(3, 288, 144)
    reference = []
    for _ in range(num):
        i, j, rh, rw, _ = T.RandomErasing.get_params(
            image, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=[0.])
        reference.append((rh < 288, i, j, rh, rw))
    ref_erase, ref_top, ref_left, ref_h, ref_w = map(np.array,
                                                     zip(*reference))
    assert erase.float().mean().item() == pytest.approx(ref_erase.mean(),
                                                        abs=0.03)

    def ks(a, b):
        grid = np.union1d(a, b)

        def cdf(x):
            return np.searchsorted(np.sort(x), grid, 'right') / len(x)

        return np.abs(cdf(a) - cdf(b)).max()

    mine = erase.numpy()
    for ours, theirs in ((h, ref_h), (w, ref_w), (top, ref_top),
                         (left, ref_left)):
        assert ks(ours.numpy()[mine], theirs[ref_erase]) < 0.05


def test_training_batches_only_and_probability():
    data = batch(num=200, height=16, width=8)
    plain = VIReIDDataPreprocessor(mean=MEAN, std=STD, to_rgb=True)
    expected = plain(data)['inputs']
    erasing = preprocessor()
    torch.manual_seed(0)
    assert torch.equal(erasing(data, training=False)['inputs'], expected)
    out = erasing(data, training=True)
    assert out['modality'].tolist() == [IR, RGB] * 100
    changed = (out['inputs'] != expected).flatten(1).any(1).float().mean()
    # p = 0.5 of erasing, times the chance that a draw fits at 16 x 8
    assert 0.3 < changed.item() < 0.5


def test_bad_configs():
    with pytest.raises(ValueError, match='prob must be in'):
        BatchRandomErasing(prob=1.5)
    with pytest.raises(ValueError, match='scale must be'):
        BatchRandomErasing(scale=(0.4, 0.2))
    with pytest.raises(ValueError, match='ratio must be'):
        BatchRandomErasing(ratio=(0., 3.))
    with pytest.raises(ValueError, match='max_attempts'):
        BatchRandomErasing(max_attempts=0)
    with pytest.raises(TypeError, match='must be a list'):
        VIReIDDataPreprocessor(batch_augments=dict(
            augments=dict(type='Mixup', alpha=0.2)))
    with pytest.raises(ValueError, match='to_onehot'):
        VIReIDDataPreprocessor(to_onehot=True)
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        BatchRandomErasing()(torch.zeros(3, 4, 4))


def test_build_from_registry():
    erasing = MODELS.build(dict(type='BatchRandomErasing', prob=0.5))
    assert isinstance(erasing, BatchRandomErasing)
    assert 'prob=0.5' in repr(erasing)
