"""Write SYSU-MM01's ``rand_perm_cam.mat`` for a tree in its layout.

The official release's evaluation code draws the gallery of trial t from
``data_split/rand_perm_cam.mat``: a cell ``rand_perm_cam`` with one cell per
camera (``rand_perm_cam{c}``), holding for each person id p (1-based
position) a (trials, n) matrix whose rows are permutations of the n image
numbers of camera c, id p (``cam<c>/<p:04d>/<number:04d>.jpg``), empty where
the camera has no image of p. :func:`write_rand_perm_cam` writes a file of
that structure for any tree in SYSU-MM01's layout (e.g. the synthetic one),
so that ``VIReIDMetric(gallery_draw='official')`` can be tested without the
release.
"""
import os
import os.path as osp
from typing import Optional

import numpy as np
import scipy.io

from mmvireid.datasets.sysu_mm01 import SYSUMM01Dataset


def write_rand_perm_cam(data_root: str,
                        out_file: Optional[str] = None,
                        num_trials: int = 10,
                        seed: int = 0,
                        num_ids: Optional[int] = None) -> str:
    """Write random gallery permutations in the official structure.

    Every image ``data_root/cam<c>/<pid:04d>/<number>.<ext>`` (cameras of
    :class:`SYSUMM01Dataset`) is listed by its number; row t of the matrix
    of (c, pid) is a permutation of those numbers drawn by a numpy
    Generator seeded with ``seed``.

    Args:
        data_root (str): Root of a tree in SYSU-MM01's layout.
        out_file (str, optional): Output path. None:
            ``data_root/exp/rand_perm_cam.mat``, where
            :class:`VIReIDMetric` looks by default. Defaults to None.
        num_trials (int): Rows of each matrix. Defaults to 10.
        seed (int): Seed of the permutations. Defaults to 0.
        num_ids (int, optional): Length of each camera's cell. None: the
            largest id of the tree. Defaults to None.

    Returns:
        str: The path written.

    Example:
        >>> root = make_synthetic_vireid('data', 'sysu')
        >>> write_rand_perm_cam(root)
        'data/SYSU-MM01/exp/rand_perm_cam.mat'
    """
    numbers = {}
    camids = SYSUMM01Dataset.RGB_CAMIDS + SYSUMM01Dataset.IR_CAMIDS
    for camid in camids:
        cam_dir = osp.join(data_root, SYSUMM01Dataset.CAM_FOLDER.format(camid))
        if not osp.isdir(cam_dir):
            raise FileNotFoundError(
                f'write_rand_perm_cam: {cam_dir!r} is not a folder; expected '
                f'the {SYSUMM01Dataset.LAYOUT}')
        for folder in os.listdir(cam_dir):
            if not folder.isdigit():
                continue
            names = os.listdir(osp.join(cam_dir, folder))
            numbers[camid, int(folder)] = sorted(
                int(osp.splitext(name)[0]) for name in names
                if name.lower().endswith(SYSUMM01Dataset.IMG_EXTENSIONS))
    if num_ids is None:
        num_ids = max((pid for _, pid in numbers), default=0)
    rng = np.random.default_rng(seed)
    cells = np.empty((max(camids), 1), dtype=object)
    for camid in range(1, len(cells) + 1):
        cell = np.empty((num_ids, 1), dtype=object)
        for pid in range(1, num_ids + 1):
            images = numbers.get((camid, pid))
            cell[pid - 1, 0] = np.stack([
                rng.permutation(images) for _ in range(num_trials)
            ]).astype(np.float64) if images else np.zeros((0, 0))
        cells[camid - 1, 0] = cell
    if out_file is None:
        out_file = osp.join(data_root, 'exp', 'rand_perm_cam.mat')
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    scipy.io.savemat(out_file, {'rand_perm_cam': cells})
    return out_file
