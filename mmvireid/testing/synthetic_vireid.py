"""Synthetic VI-ReID datasets written in the official on-disk layouts.

The real SYSU-MM01, RegDB and LLCM cannot be downloaded on build machines,
so the quick start and every test run on small trees written here in exactly
the official layouts, read by the real loaders. Camera numbers, folder names
and index-file names come from the loader classes
(:class:`SYSUMM01Dataset`, :class:`RegDBDataset`, :class:`LLCMDataset`), so
writer and reader cannot drift apart; the images come from
:mod:`mmvireid.testing.synthetic_images`.
"""
import os
import os.path as osp
import shutil
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from mmvireid.datasets import LLCMDataset, RegDBDataset, SYSUMM01Dataset
from mmvireid.structures import IR, RGB
from .synthetic_images import (draw_camera, draw_colour_schemes, draw_person,
                               draw_pose, render)

#: Loader of each layout; the tree is written under its ``dataset_name``.
LAYOUTS = {'sysu': SYSUMM01Dataset, 'regdb': RegDBDataset, 'llcm': LLCMDataset}


def _save(img: np.ndarray, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if path.endswith('.jpg'):
        Image.fromarray(img).save(path, quality=92)
    else:
        Image.fromarray(img).save(path)


def _write_lines(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(line + '\n' for line in lines))


def _id_line(ids: Sequence[int]) -> List[str]:
    return [','.join(str(i) for i in sorted(ids))]


def _choose(rng: np.random.Generator, options: Sequence[int], low: int,
            high: int) -> List[int]:
    """A random subset of ``options`` with ``low..high`` items, sorted."""
    size = rng.integers(low, min(high, len(options)) + 1)
    return sorted(int(c) for c in rng.choice(options, size, replace=False))


def _write_sysu(root: str, rng: np.random.Generator, persons: Dict,
                pids: List[int], num_train_ids: int, num_imgs_per_cam: int,
                img_size: Tuple[int, int]) -> None:
    """SYSU-MM01 tree; ``pids`` is shuffled, its head is the train ids."""
    ds = SYSUMM01Dataset
    cameras = {
        c: draw_camera(rng, IR if c in ds.IR_CAMIDS else RGB)
        for c in sorted(ds.RGB_CAMIDS + ds.IR_CAMIDS)
    }
    for camid in cameras:
        os.makedirs(osp.join(root, ds.CAM_FOLDER.format(camid)), exist_ok=True)
    num_val = max(1, num_train_ids // 8)
    parts = dict(
        train=pids[:num_train_ids - num_val],
        val=pids[num_train_ids - num_val:num_train_ids],
        test=pids[num_train_ids:])
    for part, ids in parts.items():
        _write_lines(osp.join(root, ds.ID_LISTS[part]), _id_line(ids))
    # Every id: cam1 (indoor search keeps a match for cam3 queries, whose
    # cam2 gallery is removed), >= 1 more RGB camera and >= 1 IR camera.
    first_rgb, *other_rgb = ds.RGB_CAMIDS
    for pid in sorted(pids):
        camids = [first_rgb] + _choose(rng, other_rgb, 1, len(other_rgb)) + \
            _choose(rng, ds.IR_CAMIDS, 1, len(ds.IR_CAMIDS))
        for camid in sorted(camids):
            folder = osp.join(root, ds.CAM_FOLDER.format(camid),
                              ds.PID_FOLDER.format(pid))
            for k in range(1, num_imgs_per_cam + 1):
                img = render(rng, persons[pid], draw_pose(rng),
                             cameras[camid], img_size)
                _save(img, osp.join(folder, f'{k:04d}.jpg'))


def _write_regdb(root: str, rng: np.random.Generator, persons: Dict,
                 pids: List[int], num_train_ids: int,
                 img_size: Tuple[int, int]) -> None:
    """RegDB tree: all ids' images and the index files of every trial."""
    ds = RegDBDataset
    cameras = {RGB: draw_camera(rng, RGB), IR: draw_camera(rng, IR)}
    # The letter of each modality in the released file names.
    letters = {RGB: 'v', IR: 't'}
    files = {}
    for pid in sorted(pids):
        gender = rng.choice(['male', 'female'])
        view = rng.choice(['front', 'back'])
        frame = int(rng.integers(1, 9000))
        for k in range(10):
            # Visible and thermal frames are captured together: same pose.
            pose = draw_pose(rng)
            for modality, folder in ds.IMG_FOLDERS.items():
                rel = f'{folder}/{pid}/{gender}_{view}_{letters[modality]}_' \
                      f'{frame + k:05d}_1.bmp'
                _save(render(rng, persons[pid], pose, cameras[modality],
                             img_size), osp.join(root, rel))
                files.setdefault((pid, modality), []).append(rel)
    for trial in ds.TRIALS:
        order = rng.permutation(pids)
        splits = {'train': sorted(order[:num_train_ids]),
                  'test': sorted(order[num_train_ids:])}
        for split, ids in splits.items():
            for modality, (_, word) in ds.CAMERAS.items():
                lines = [f'{rel} {label}' for label, pid in enumerate(ids)
                         for rel in files[(pid, modality)]]
                _write_lines(
                    osp.join(
                        root,
                        ds.INDEX_FILE.format(
                            split=split, word=word, trial=trial)), lines)


def _write_llcm(root: str, rng: np.random.Generator, persons: Dict,
                pids: List[int], num_train_ids: int, num_imgs_per_cam: int,
                img_size: Tuple[int, int]) -> None:
    """LLCM tree; ``pids`` is shuffled, its head is the train ids."""
    ds = LLCMDataset
    cameras = {(modality, c): draw_camera(rng, modality)
               for modality in (RGB, IR) for c in ds.CAMIDS[modality]}
    train_ids = set(pids[:num_train_ids])
    test_ids = pids[num_train_ids:]
    for modality, folder in ds.IMG_FOLDERS['test'].items():
        for camid in ds.CAMIDS[modality]:
            os.makedirs(
                osp.join(root, folder, ds.CAM_FOLDER.format(camid)),
                exist_ok=True)
    _write_lines(osp.join(root, ds.TEST_ID_LIST), _id_line(test_ids))
    labels = {pid: label for label, pid in enumerate(sorted(train_ids))}
    index = {RGB: [], IR: []}
    for pid in sorted(pids):
        # Each direction keeps a gallery camera after the same-id,
        # same-camera removal: some camera of either modality is not shared.
        vis, nir = [], []
        while not (set(vis) - set(nir) and set(nir) - set(vis)):
            vis = _choose(rng, ds.CAMIDS[RGB], 2, 4)
            nir = _choose(rng, ds.CAMIDS[IR], 1, 3)
        split = 'train' if pid in train_ids else 'test'
        session = 191200 + int(rng.integers(1, 29))
        for modality, camids in ((RGB, vis), (IR, nir)):
            folder = ds.IMG_FOLDERS[split][modality]
            for camid in camids:
                for k in range(1, num_imgs_per_cam + 1):
                    frame = int(rng.integers(100, 9999))
                    rel = '/'.join(
                        (folder, ds.CAM_FOLDER.format(camid),
                         ds.PID_FOLDER.format(pid),
                         f'{pid:04d}_c{camid:02d}_s{session}_f{frame}_{k}'
                         '.jpg'))
                    _save(render(rng, persons[pid], draw_pose(rng),
                                 cameras[(modality, camid)], img_size),
                          osp.join(root, rel))
                    if split == 'train':
                        index[modality].append(f'{rel} {labels[pid]}')
    for modality, name in ds.TRAIN_INDEX.items():
        _write_lines(osp.join(root, name), index[modality])


def make_synthetic_vireid(out_dir: str,
                          layout: str,
                          seed: int = 0,
                          num_train_ids: int = 32,
                          num_test_ids: int = 32,
                          num_imgs_per_cam: int = 8,
                          img_size: Tuple[int, int] = (128, 64),
                          overwrite: bool = False) -> str:
    """Write a small synthetic VI-ReID dataset in an official layout.

    The tree is ``out_dir/<SYSU-MM01|RegDB|LLCM>`` and the matching loader
    (:class:`SYSUMM01Dataset`, :class:`RegDBDataset`, :class:`LLCMDataset`)
    reads it. Ids are ``1..num_train_ids + num_test_ids``, shuffled into the
    train and test ids. Every file is a deterministic function of ``seed``.

    - ``'sysu'``: ``cam1..cam6/<pid:04d>/<img:04d>.jpg`` and ``exp/*_id.txt``
      (one id in eight of the train ids goes to ``val_id.txt``). Every id is
      seen by cam1, at least one of cams 2, 4, 5 and at least one IR camera
      (3, 6), ``num_imgs_per_cam`` images each.
    - ``'regdb'``: ``Visible/<pid>/*_v_*.bmp``, ``Thermal/<pid>/*_t_*.bmp``,
      exactly ten images per id per modality (a visible and a thermal image
      share the pose, as the real pairs are captured together) and the index
      files of the ten trials, each a fresh random train / test split of the
      ids.
    - ``'llcm'``: ``train_vis``, ``train_nir``, ``test_vis`` (cam1..cam9),
      ``test_nir`` (no cam3) of ``<pid:04d>/<pid>_cNN_s..._f..._k.jpg``,
      ``idx/train_vis.txt``, ``idx/train_nir.txt``, ``idx/test_id.txt``;
      each id in 2-4 visible and 1-3 NIR cameras.

    Args:
        out_dir (str): Folder to write the dataset root in.
        layout (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``.
        seed (int): Seed of the numpy Generator. Defaults to 0.
        num_train_ids (int): Number of training ids. Defaults to 32.
        num_test_ids (int): Number of test ids. Defaults to 32.
        num_imgs_per_cam (int): Images per id per camera (SYSU, LLCM).
            Defaults to 8 (about 24 visible and 12 IR training images per
            id with the SYSU layout).
        img_size (tuple[int, int]): Image size (H, W). Defaults to (128, 64).
        overwrite (bool): Replace an existing, non-empty root. Defaults to
            False.

    Returns:
        str: Absolute path of the dataset root written.

    Example:
        >>> from mmvireid.testing import make_synthetic_vireid
        >>> root = make_synthetic_vireid('data/synthetic', 'sysu')
        >>> train_dataloader = dict(
        ...     dataset=dict(type='SYSUMM01Dataset', data_root=root))
    """
    if layout not in LAYOUTS:
        raise ValueError(f'make_synthetic_vireid: layout must be one of '
                         f'{sorted(LAYOUTS)}, got {layout!r}')
    if num_train_ids < 2 or num_test_ids < 1 or num_imgs_per_cam < 1:
        raise ValueError(
            'make_synthetic_vireid: expected num_train_ids >= 2, '
            'num_test_ids >= 1 and num_imgs_per_cam >= 1, got '
            f'{num_train_ids}, {num_test_ids}, {num_imgs_per_cam}')
    if len(img_size) != 2 or img_size[0] < 32 or img_size[1] < 16:
        raise ValueError('make_synthetic_vireid: img_size must be (H, W) of '
                         f'at least (32, 16), got {img_size!r}')
    root = osp.abspath(
        osp.join(out_dir, LAYOUTS[layout].METAINFO['dataset_name']))
    if osp.isdir(root) and os.listdir(root):
        if not overwrite:
            raise FileExistsError(
                f'make_synthetic_vireid: {root!r} exists and is not empty; '
                'pass overwrite=True to replace it')
        shutil.rmtree(root)
    os.makedirs(root, exist_ok=True)

    rng = np.random.default_rng(seed)
    schemes = draw_colour_schemes(rng)
    num_ids = num_train_ids + num_test_ids
    persons = {
        pid: draw_person(rng, schemes)
        for pid in range(1, num_ids + 1)
    }
    pids = [int(p) for p in rng.permutation(np.arange(1, num_ids + 1))]
    img_size = tuple(img_size)
    if layout == 'sysu':
        _write_sysu(root, rng, persons, pids, num_train_ids, num_imgs_per_cam,
                    img_size)
    elif layout == 'regdb':
        _write_regdb(root, rng, persons, pids, num_train_ids, img_size)
    else:
        _write_llcm(root, rng, persons, pids, num_train_ids, num_imgs_per_cam,
                    img_size)
    return root
