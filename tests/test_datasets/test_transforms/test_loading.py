import cv2
import numpy as np
import pytest

from mmvireid.registry import TRANSFORMS

IMG = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


@pytest.fixture
def png(tmp_path):
    path = tmp_path / 'cam1' / '0001' / '0001.png'
    path.parent.mkdir(parents=True)
    assert cv2.imwrite(str(path), IMG)
    return path


def load(path, **cfg):
    transform = TRANSFORMS.build(dict(type='LoadVIReIDImage', **cfg))
    return transform(dict(img_path=str(path), modality=0))


def test_loads_bgr_uint8(png):
    results = load(png)
    assert results['img'].dtype == np.uint8
    assert np.array_equal(results['img'], IMG)
    assert results['img_shape'] == results['ori_shape'] == (4, 6)
    assert results['modality'] == 0
    assert load(png, to_float32=True)['img'].dtype == np.float32
    assert np.array_equal(load(png, imdecode_backend='pillow')['img'], IMG)


def test_gray_file_gives_three_channels(tmp_path):
    path = tmp_path / 'ir.png'
    cv2.imwrite(str(path), IMG[..., 0])
    img = load(path)['img']
    assert img.shape == (4, 6, 3)
    assert (img == IMG[..., :1]).all()


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / 'cam3' / 'missing.jpg'
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        load(path)
    assert load(path, ignore_empty=True) is None


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('content', [b'', b'not an image at all', 'cut'])
def test_undecodable_file_names_the_path(tmp_path, png, backend, content):
    path = tmp_path / 'bad.jpg'
    path.write_bytes(png.read_bytes()[:30] if content == 'cut' else content)
    with pytest.raises(OSError, match=r'bad\.jpg.*JPEG/PNG/BMP'):
        load(path, imdecode_backend=backend)
    assert load(path, imdecode_backend=backend, ignore_empty=True) is None


def test_bad_arguments():
    with pytest.raises(ValueError, match='imdecode_backend'):
        TRANSFORMS.build(dict(type='LoadVIReIDImage', imdecode_backend='x'))
    with pytest.raises(ValueError, match='color_type'):
        TRANSFORMS.build(dict(type='LoadVIReIDImage', color_type='colour'))
    with pytest.raises(KeyError, match='img_path'):
        TRANSFORMS.build(dict(type='LoadVIReIDImage'))(dict(modality=0))


def with_declared_size(jpeg: bytes, height: int, width: int) -> bytes:
    """``jpeg`` with its SOF0 header declaring ``height`` x ``width``."""
    sof = jpeg.index(b'\xff\xc0')
    return (jpeg[:sof + 5] + height.to_bytes(2, 'big') +
            width.to_bytes(2, 'big') + jpeg[sof + 9:])


@pytest.mark.parametrize('height, width', [(60000, 60000), (10000, 10000)])
def test_decompression_bomb_says_so(tmp_path, height, width):
    ok, encoded = cv2.imencode('.jpg', IMG)
    path = tmp_path / 'bomb.jpg'
    path.write_bytes(with_declared_size(encoded.tobytes(), height, width))
    with pytest.raises(OSError, match=r"bomb\.jpg.*decompression bomb"):
        load(path)
    assert load(path, ignore_empty=True) is None


def test_max_pixels(png):
    assert load(png, max_pixels=24)['img'].shape == (4, 6, 3)
    with pytest.raises(OSError, match=r'declares 6 x 4 = 24 pixels, more '
                       'than max_pixels=23'):
        load(png, max_pixels=23)
    with pytest.raises(ValueError, match='max_pixels must be an int'):
        TRANSFORMS.build(dict(type='LoadVIReIDImage', max_pixels=0))
