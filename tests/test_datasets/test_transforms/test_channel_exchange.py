from collections import Counter

import numpy as np
import pytest

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import IR, RGB

# Two BGR pixels; their ITU-R 601 gray (0.114 B + 0.587 G + 0.299 R), by
# hand: 1.14 + 11.74 + 8.97 = 21.85 -> 22 and 22.8 + 58.7 + 14.95 = 96.45
# -> 96. Read as RGB: 2.99 + 11.74 + 3.42 = 18.15 -> 18 and
# 59.8 + 58.7 + 5.7 = 124.2 -> 124.
IMG = np.array([[[10, 20, 30], [200, 100, 50]]], dtype=np.uint8)
GRAY_BGR = np.array([[[22] * 3, [96] * 3]], dtype=np.uint8)
GRAY_RGB = np.array([[[18] * 3, [124] * 3]], dtype=np.uint8)


def outcome(img, gray=GRAY_BGR):
    """Name what the transform did, from the output alone."""
    if np.array_equal(img, IMG):
        return 'keep'
    if np.array_equal(img, gray):
        return 'gray'
    for c in range(3):
        if np.array_equal(img, np.stack([IMG[..., c]] * 3, axis=-1)):
            return c
    raise AssertionError(f'unexpected output {img.tolist()}')


def run(cfg, modality=RGB, times=1200, gray=GRAY_BGR):
    transform = TRANSFORMS.build(cfg)
    np.random.seed(0)
    return Counter(
        outcome(
            transform(dict(img=IMG.copy(), modality=modality))['img'], gray)
        for _ in range(times))


def test_default_is_one_channel_with_equal_chances():
    counts = run(dict(type='ChannelExchange'))
    assert set(counts) == {0, 1, 2}
    for c in range(3):
        assert 0.28 < counts[c] / 1200 < 0.39


@pytest.mark.parametrize('gray,gray_share', [(3, 1 / 4), (5, 3 / 6)])
def test_larger_gray_gives_gray(gray, gray_share):
    counts = run(dict(type='ChannelExchange', gray=gray))
    assert set(counts) == {0, 1, 2, 'gray'}
    assert abs(counts['gray'] / 1200 - gray_share) < 0.05


def test_gray_weights_follow_color_format():
    counts = run(
        dict(type='ChannelExchange', gray=20, color_format='rgb'),
        gray=GRAY_RGB)
    assert counts['gray'] > 900


def test_prob_keeps_some_images():
    assert set(run(dict(type='ChannelExchange', prob=0.0))) == {'keep'}
    counts = run(dict(type='ChannelExchange', prob=0.25))
    assert abs(counts['keep'] / 1200 - 0.75) < 0.05


def test_other_modality_is_left_alone():
    assert set(run(dict(type='ChannelExchange'), modality=IR)) == {'keep'}
    counts = run(dict(type='ChannelExchange', modalities='ir'), modality=IR)
    assert set(counts) == {0, 1, 2}
    counts = run(
        dict(type='ChannelExchange', modalities=[0, 'ir']), modality=IR)
    assert set(counts) == {0, 1, 2}


def test_output_is_contiguous_and_input_untouched():
    img = IMG.copy()
    out = TRANSFORMS.build(dict(type='ChannelExchange'))(dict(
        img=img, modality=RGB))['img']
    assert out.shape == (1, 2, 3) and out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert np.array_equal(img, IMG)


def test_bad_input_and_arguments():
    transform = TRANSFORMS.build(dict(type='ChannelExchange'))
    with pytest.raises(KeyError, match="'modality'"):
        transform(dict(img=IMG.copy(), img_path='a.jpg'))
    with pytest.raises(ValueError, match=r'a\.jpg.*\(2, 3\)'):
        transform(
            dict(
                img=np.zeros((2, 3), np.uint8), modality=RGB,
                img_path='a.jpg'))
    with pytest.raises(ValueError, match='modalities'):
        TRANSFORMS.build(dict(type='ChannelExchange', modalities=(2, )))
    with pytest.raises(ValueError, match='modalities'):
        TRANSFORMS.build(dict(type='ChannelExchange', modalities=()))
    with pytest.raises(ValueError, match='gray'):
        TRANSFORMS.build(dict(type='ChannelExchange', gray=1))
    with pytest.raises(ValueError, match='prob'):
        TRANSFORMS.build(dict(type='ChannelExchange', prob=1.5))
    with pytest.raises(ValueError, match='color_format'):
        TRANSFORMS.build(dict(type='ChannelExchange', color_format='hsv'))


def test_repr_shows_arguments():
    transform = TRANSFORMS.build(
        dict(type='ChannelExchange', gray=3, prob=0.5, modalities='rgb'))
    assert repr(transform) == ("ChannelExchange(gray=3, prob=0.5, "
                               "modalities=(0,), color_format='bgr')")
