from collections import Counter

import numpy as np
import pytest

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import IR, RGB

# See test_channel_exchange.py for the hand-computed gray values.
IMG = np.array([[[10, 20, 30], [200, 100, 50]]], dtype=np.uint8)
GRAY_BGR = np.array([[[22] * 3, [96] * 3]], dtype=np.uint8)


def outcome(img):
    if np.array_equal(img, IMG):
        return 'keep'
    if np.array_equal(img, GRAY_BGR):
        return 'gray'
    for c in range(3):
        if np.array_equal(img, np.stack([IMG[..., c]] * 3, axis=-1)):
            return c
    raise AssertionError(f'unexpected output {img.tolist()}')


def run(cfg, modality=IR, times=1600):
    transform = TRANSFORMS.build(cfg)
    np.random.seed(0)
    return Counter(
        outcome(transform(dict(img=IMG.copy(), modality=modality))['img'])
        for _ in range(times))


def test_quarter_per_channel_and_the_last_quarter_split():
    counts = run(dict(type='ChannelAdapGray'))
    # CAJ: each channel 1/4; idx 3 -> gray with p = 0.5, else keep.
    for c in range(3):
        assert abs(counts[c] / 1600 - 1 / 4) < 0.04
    assert abs(counts['gray'] / 1600 - 1 / 8) < 0.03
    assert abs(counts['keep'] / 1600 - 1 / 8) < 0.03


def test_gray_prob_extremes():
    assert set(run(dict(type='ChannelAdapGray',
                        gray_prob=1.0))) == {0, 1, 2, 'gray'}
    assert set(run(dict(type='ChannelAdapGray',
                        gray_prob=0.0))) == {0, 1, 2, 'keep'}


def test_rgb_left_alone_by_default():
    assert set(run(dict(type='ChannelAdapGray'), modality=RGB)) == {'keep'}
    counts = run(
        dict(type='ChannelAdapGray', modalities=(RGB, IR)), modality=RGB)
    assert set(counts) == {0, 1, 2, 'gray', 'keep'}


def test_bad_arguments_and_repr():
    with pytest.raises(ValueError, match='gray_prob'):
        TRANSFORMS.build(dict(type='ChannelAdapGray', gray_prob=-0.1))
    with pytest.raises(ValueError, match='modalities'):
        TRANSFORMS.build(dict(type='ChannelAdapGray', modalities='depth'))
    assert repr(TRANSFORMS.build(dict(type='ChannelAdapGray'))) == (
        "ChannelAdapGray(gray_prob=0.5, modalities=(1,), color_format='bgr')")
