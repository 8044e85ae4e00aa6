import numpy as np
import pytest

from mmvireid.registry import TRANSFORMS


def erased_box(before, after):
    """Bounding box (top, left, h, w) of the changed pixels, or None."""
    rows, cols = np.nonzero((before != after).any(axis=2))
    if not len(rows):
        return None
    top, left = rows.min(), cols.min()
    return top, left, rows.max() - top + 1, cols.max() - left + 1


def test_default_fill_is_caj_mean_in_bgr_pixels():
    # CAJ fills the ImageNet-normalised RGB tensor with (0.4914, 0.4822,
    # 0.4465); as pixels: value * std + mean, per channel, then BGR order.
    mean = np.array([123.675, 116.28, 103.53])
    std = np.array([58.395, 57.12, 57.375])
    expected = np.round(np.array([0.4914, 0.4822, 0.4465]) * std + mean)
    transform = TRANSFORMS.build(
        dict(type='ChannelRandomErasing', erase_prob=1.0))
    np.random.seed(1)
    img = np.zeros((288, 144, 3), np.uint8)
    out = transform(dict(img=img.copy()))['img']
    top, left, h, w = erased_box(img, out)
    patch = out[top:top + h, left:left + w]
    assert (patch == expected[::-1].astype(np.uint8)).all()
    assert (out.sum(axis=2) > 0).sum() == h * w  # one full rectangle


def test_rectangles_follow_caj_sampling():
    transform = TRANSFORMS.build(
        dict(type='ChannelRandomErasing', erase_prob=1.0))
    np.random.seed(0)
    tall = 0
    for _ in range(1500):
        top, left, h, w = transform.random_patch(1000, 1000)
        assert 0.02 * 1e6 * 0.97 <= h * w <= 0.4 * 1e6 * 1.03
        assert 0.3 * 0.95 <= h / w <= 1 / 0.3 * 1.05
        assert top + h <= 1000 and left + w <= 1000
        tall += h > w
    # Aspect ratio uniform on [0.3, 1/0.3]: P(h > w) = (1/0.3 - 1) /
    # (1/0.3 - 0.3) = 0.769; a log-uniform draw (mmpretrain) gives 0.5.
    assert 0.73 < tall / 1500 < 0.81


def test_corners_cover_every_valid_position():
    # A 1x1 rectangle in a 2x2 image: CAJ's randint(0, H - h) is inclusive,
    # so all four positions occur.
    transform = TRANSFORMS.build(
        dict(
            type='ChannelRandomErasing',
            erase_prob=1.0,
            min_area_ratio=0.25,
            max_area_ratio=0.25,
            aspect_range=(1.0, 1.0)))
    np.random.seed(0)
    corners = {transform.random_patch(2, 2) for _ in range(100)}
    assert corners == {(0, 0, 1, 1), (0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 1, 1)}


def test_no_fitting_rectangle_leaves_the_image():
    # 4x4 image, area >= 0.9 * 16 = 14.4: h < 4 and w < 4 after rounding
    # need h*w < 3.5**2 = 12.25 < 14.4, impossible, so nothing is erased
    # (mmpretrain's RandomErasing would clip and erase).
    transform = TRANSFORMS.build(
        dict(
            type='ChannelRandomErasing',
            erase_prob=1.0,
            min_area_ratio=0.9,
            max_area_ratio=0.95))
    np.random.seed(0)
    img = np.zeros((4, 4, 3), np.uint8)
    for _ in range(20):
        assert np.array_equal(transform(dict(img=img.copy()))['img'], img)


def test_probability():
    transform = TRANSFORMS.build(
        dict(type='ChannelRandomErasing', erase_prob=0.5))
    np.random.seed(0)
    img = np.zeros((32, 16, 3), np.uint8)
    erased = sum(
        erased_box(img,
                   transform(dict(img=img.copy()))['img']) is not None
        for _ in range(400))
    assert 170 < erased < 230


def test_bad_input_and_repr():
    transform = TRANSFORMS.build(
        dict(type='ChannelRandomErasing', erase_prob=1.0))
    with pytest.raises(ValueError, match=r'b\.jpg.*\(8, 8\)'):
        transform(dict(img=np.zeros((8, 8), np.uint8), img_path='b.jpg'))
    with pytest.raises(ValueError, match='max_attempts'):
        TRANSFORMS.build(dict(type='ChannelRandomErasing', max_attempts=0))
    assert repr(transform).startswith('ChannelRandomErasing(erase_prob=1.0')
    assert repr(transform).endswith('max_attempts=100)')
