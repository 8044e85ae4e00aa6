"""The painter of mmvireid.testing.synthetic_images: what the images of a
synthetic tree look like across modalities."""
import numpy as np
from PIL import Image

from mmvireid.datasets import SYSUMM01Dataset


def read(path):
    return np.asarray(Image.open(path).convert('RGB'), dtype=np.int64)


def test_modalities_differ_in_colour(sysu_root):
    test = SYSUMM01Dataset(sysu_root, split='test')
    for i in range(len(test)):
        item = test.get_data_info(i)
        img = read(item['img_path'])
        spread = np.abs(img[..., 0] - img[..., 1]) + \
            np.abs(img[..., 1] - img[..., 2])
        if item['modality']:
            assert spread.max() == 0, item['img_path']
        else:
            assert spread.mean() > 10, item['img_path']


def strip_gradient_histograms(path, strips=16, bins=6):
    """Colour-blind descriptor: per horizontal strip of the central half of
    the grey image, a histogram of unsigned gradient orientations weighted
    by magnitude (invariant to horizontal shifts and to contrast sign)."""
    grey = read(path).mean(axis=-1)
    grey = grey[:, grey.shape[1] // 4:-(grey.shape[1] // 4)]
    gy, gx = np.gradient(grey)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    bin_ = np.minimum((angle / np.pi * bins).astype(int), bins - 1)
    strip = (np.arange(grey.shape[0]) * strips // grey.shape[0])[:, None]
    hist = np.zeros((strips, bins))
    np.add.at(hist, (np.broadcast_to(strip, bin_.shape), bin_),
              np.hypot(gx, gy))
    hist /= np.linalg.norm(hist, axis=1, keepdims=True) + 1e-9
    return hist.ravel()


def test_identity_survives_modality_change(sysu_root):
    test = SYSUMM01Dataset(sysu_root, split='test')
    data = [test.get_data_info(i) for i in range(len(test))]
    feats = np.stack(
        [strip_gradient_histograms(it['img_path']) for it in data])
    pids = test.pids
    ir = test.modalities == 1
    dist = ((feats[ir][:, None] - feats[~ir][None])**2).sum(-1)
    rank1 = np.mean(pids[~ir][dist.argmin(axis=1)] == pids[ir])
    chance = 1 / test.num_pids
    assert rank1 > 3 * chance, (rank1, chance)
