import numpy as np
import pytest

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import IR, RGB

# See test_channel_exchange.py for the hand-computed gray values.
IMG = np.array([[[10, 20, 30], [200, 100, 50]]], dtype=np.uint8)
GRAY_BGR = np.array([[[22] * 3, [96] * 3]], dtype=np.uint8)
GRAY_RGB = np.array([[[18] * 3, [124] * 3]], dtype=np.uint8)


def apply(cfg, img=IMG, modality=RGB):
    transform = TRANSFORMS.build(cfg)
    return transform(dict(img=img.copy(), modality=modality))['img']


def test_gray_values():
    out = apply(dict(type='ModalityRandomGrayscale', prob=1.0))
    assert np.array_equal(out, GRAY_BGR)
    out = apply(
        dict(type='ModalityRandomGrayscale', prob=1.0, color_format='rgb'))
    assert np.array_equal(out, GRAY_RGB)


def test_gray_image_stays_the_same():
    # mmcv's RandomGrayscale truncates: a gray pixel of 23 becomes 22.
    values = np.arange(256, dtype=np.uint8)
    img = np.repeat(values[None, :, None], 3, axis=2)
    out = apply(dict(type='ModalityRandomGrayscale', prob=1.0), img=img)
    assert np.array_equal(out, img)


def test_probability():
    transform = TRANSFORMS.build(
        dict(type='ModalityRandomGrayscale', prob=0.3))
    np.random.seed(0)
    grays = sum(
        np.array_equal(
            transform(dict(img=IMG.copy(), modality=RGB))['img'], GRAY_BGR)
        for _ in range(1000))
    assert 250 < grays < 350
    assert np.array_equal(
        apply(dict(type='ModalityRandomGrayscale', prob=0.0)), IMG)


def test_only_listed_modalities():
    cfg = dict(type='ModalityRandomGrayscale', prob=1.0)
    assert np.array_equal(apply(cfg, modality=IR), IMG)
    cfg['modalities'] = 'ir'
    assert np.array_equal(apply(cfg, modality=IR), GRAY_BGR)
    assert np.array_equal(apply(cfg, modality=RGB), IMG)


def test_bad_arguments_and_repr():
    with pytest.raises(ValueError, match='prob'):
        TRANSFORMS.build(dict(type='ModalityRandomGrayscale', prob=2))
    with pytest.raises(ValueError, match="gray_backend must be 'cv2' or"):
        TRANSFORMS.build(
            dict(type='ModalityRandomGrayscale', gray_backend='pil'))
    assert repr(TRANSFORMS.build(dict(type='ModalityRandomGrayscale'))) == (
        "ModalityRandomGrayscale(prob=0.5, gray_backend='cv2', "
        "modalities=(0,), color_format='bgr')")


@pytest.mark.parametrize('color_format', ['bgr', 'rgb'])
def test_pillow_gray_equals_torchvision_random_grayscale(color_format):
    """gray_backend='pillow' is, pixel for pixel, what torchvision's
    RandomGrayscale gives for a PIL image (MCLNet's RGB transform), where
    the cv2 luminance differs by 1 on some pixels."""
    import torchvision.transforms.functional as TF
    from PIL import Image
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (288, 144, 3), dtype=np.uint8)
    expected = np.asarray(TF.rgb_to_grayscale(Image.fromarray(rgb), 3))
    img = rgb[..., ::-1].copy() if color_format == 'bgr' else rgb
    cfg = dict(type='ModalityRandomGrayscale', prob=1.0,
               color_format=color_format, gray_backend='pillow')
    out = apply(cfg, img=img)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(out, expected)
    cfg['gray_backend'] = 'cv2'
    assert (apply(cfg, img=img) != expected).any()
    with pytest.raises(ValueError, match='needs a uint8 image'):
        apply(dict(cfg, gray_backend='pillow'), img=img.astype(np.float32))
