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
from typing import Dict, List, Optional, Sequence, Tuple

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


#: Image counts of the official releases, per split: ids and images per
#: modality (RGB / visible, IR / thermal or near-infrared); SYSU-MM01's
#: train split holds its train and val ids. The presets of
#: :func:`make_synthetic_vireid` write trees of exactly these counts (the
#: split of an id's images over its cameras is ours).
PRESETS = {
    # 395 train + val ids (296 + 99): 22,258 RGB + 11,909 IR images; 96 test
    # ids: 3,803 IR query images and 7,813 RGB images (the release's 30,071
    # RGB images less the training ones)
    'sysu-full':
    dict(
        layout='sysu',
        num_train_ids=395,
        num_val_ids=99,
        num_test_ids=96,
        num_images=dict(train=(22258, 11909), test=(7813, 3803))),
    # 206 train and 206 test ids of 10 visible + 10 thermal images each
    'regdb-full':
    dict(layout='regdb', num_train_ids=206, num_test_ids=206),
    # 713 train ids: 16,946 visible + 13,975 NIR images; 351 test ids:
    # 8,680 visible + 7,166 NIR images
    'llcm-full':
    dict(
        layout='llcm',
        num_train_ids=713,
        num_test_ids=351,
        num_images=dict(train=(16946, 13975), test=(8680, 7166))),
}


def preset_kwargs(name: str, scale: float = 1.0) -> dict:
    """Arguments of :func:`make_synthetic_vireid` for a preset of
    :data:`PRESETS`, its ids and images scaled by ``scale``.

    Args:
        name (str): ``'sysu-full'``, ``'regdb-full'`` or ``'llcm-full'``.
        scale (float): Factor on every id and image count, in (0, 1]
            (rounded; at least the smallest tree the layout allows).
            Defaults to 1.

    Returns:
        dict: ``layout``, ``num_train_ids``, ``num_test_ids`` and, where
        the preset has them, ``num_val_ids`` and ``num_images``.

    Example:
        >>> kwargs = preset_kwargs('sysu-full', scale=1 / 32)
        >>> make_synthetic_vireid('data/sysu_1k', img_size=(32, 16), **kwargs)
    """
    if name not in PRESETS:
        raise ValueError(f'preset_kwargs: preset must be one of '
                         f'{sorted(PRESETS)}, got {name!r}')
    if not 0 < scale <= 1:
        raise ValueError(f'preset_kwargs: scale must be in (0, 1], got '
                         f'{scale!r}')
    kwargs = dict(PRESETS[name])
    for key, least in (('num_train_ids', 2), ('num_val_ids', 1),
                       ('num_test_ids', 1)):
        if key in kwargs:
            kwargs[key] = max(least, round(kwargs[key] * scale))
    if 'num_images' in kwargs:
        kwargs['num_images'] = {
            split: tuple(max(1, round(n * scale)) for n in counts)
            for split, counts in kwargs['num_images'].items()
        }
    return kwargs


def _spread(total: int, parts: int) -> List[int]:
    """``total`` split into ``parts`` counts as even as possible, the larger
    ones first."""
    return [total // parts + (i < total % parts) for i in range(parts)]


class _ImageCounts:
    """Images of each id per camera: ``num_imgs_per_cam`` on every camera,
    or per split and modality totals spread evenly over the ids (in id
    order) and then over each id's cameras."""

    def __init__(self, num_imgs_per_cam: int,
                 num_images: Optional[Dict[str, Tuple[int, int]]],
                 split_ids: Dict[str, Sequence[int]]):
        self.num_imgs_per_cam = num_imgs_per_cam
        self.per_id = {}
        if num_images is None:
            return
        for split, ids in split_ids.items():
            for modality in (RGB, IR):
                total = num_images[split][modality]
                if total < len(ids):
                    raise ValueError(
                        f'make_synthetic_vireid: num_images[{split!r}] asks '
                        f'for {total} images of modality {modality} for '
                        f'{len(ids)} ids; every id needs one')
                for pid, count in zip(sorted(ids), _spread(total, len(ids))):
                    self.per_id[(pid, modality)] = count

    def per_camera(self, pid: int, modality: int,
                   camids: Sequence[int]) -> List[int]:
        """Images of ``pid`` on each of its cameras of ``modality``."""
        if not self.per_id:
            return [self.num_imgs_per_cam] * len(camids)
        return _spread(self.per_id[(pid, modality)], len(camids))


def _choose(rng: np.random.Generator, options: Sequence[int], low: int,
            high: int) -> List[int]:
    """A random subset of ``options`` with ``low..high`` items, sorted."""
    size = rng.integers(low, min(high, len(options)) + 1)
    return sorted(int(c) for c in rng.choice(options, size, replace=False))


def _write_sysu(root: str, rng: np.random.Generator, persons: Dict,
                pids: List[int], num_train_ids: int, num_val_ids: int,
                counts: _ImageCounts, img_size: Tuple[int, int]) -> None:
    """SYSU-MM01 tree; ``pids`` is shuffled, its head is the train ids."""
    ds = SYSUMM01Dataset
    cameras = {
        c: draw_camera(rng, IR if c in ds.IR_CAMIDS else RGB)
        for c in sorted(ds.RGB_CAMIDS + ds.IR_CAMIDS)
    }
    for camid in cameras:
        os.makedirs(osp.join(root, ds.CAM_FOLDER.format(camid)), exist_ok=True)
    parts = dict(
        train=pids[:num_train_ids - num_val_ids],
        val=pids[num_train_ids - num_val_ids:num_train_ids],
        test=pids[num_train_ids:])
    for part, ids in parts.items():
        _write_lines(osp.join(root, ds.ID_LISTS[part]), _id_line(ids))
    # Every id: cam1 (indoor search keeps a match for cam3 queries, whose
    # cam2 gallery is removed), >= 1 more RGB camera and >= 1 IR camera.
    first_rgb, *other_rgb = ds.RGB_CAMIDS
    for pid in sorted(pids):
        rgb = [first_rgb] + _choose(rng, other_rgb, 1, len(other_rgb))
        ir = _choose(rng, ds.IR_CAMIDS, 1, len(ds.IR_CAMIDS))
        num = dict(
            zip(rgb + ir,
                counts.per_camera(pid, RGB, rgb) +
                counts.per_camera(pid, IR, ir)))
        for camid in sorted(rgb + ir):
            folder = osp.join(root, ds.CAM_FOLDER.format(camid),
                              ds.PID_FOLDER.format(pid))
            for k in range(1, num[camid] + 1):
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
                pids: List[int], num_train_ids: int, counts: _ImageCounts,
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
            for camid, num in zip(camids,
                                  counts.per_camera(pid, modality, camids)):
                for k in range(1, num + 1):
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


def make_synthetic_vireid(
        out_dir: str,
        layout: str,
        seed: int = 0,
        num_train_ids: int = 32,
        num_test_ids: int = 32,
        num_imgs_per_cam: int = 8,
        img_size: Tuple[int, int] = (128, 64),
        overwrite: bool = False,
        num_val_ids: Optional[int] = None,
        num_images: Optional[Dict[str, Tuple[int, int]]] = None) -> str:
    """Write a small synthetic VI-ReID dataset in an official layout.

    The tree is ``out_dir/<SYSU-MM01|RegDB|LLCM>`` and the matching loader
    (:class:`SYSUMM01Dataset`, :class:`RegDBDataset`, :class:`LLCMDataset`)
    reads it. Ids are ``1..num_train_ids + num_test_ids``, shuffled into the
    train and test ids. Every file is a deterministic function of ``seed``.

    - ``'sysu'``: ``cam1..cam6/<pid:04d>/<img:04d>.jpg`` and ``exp/*_id.txt``
      (``num_val_ids`` of the train ids, by default one in eight, go to
      ``val_id.txt``). Every id is seen by cam1, at least one of cams 2, 4,
      5 and at least one IR camera (3, 6), ``num_imgs_per_cam`` images
      each.
    - ``'regdb'``: ``Visible/<pid>/*_v_*.bmp``, ``Thermal/<pid>/*_t_*.bmp``,
      exactly ten images per id per modality (a visible and a thermal image
      share the pose, as the real pairs are captured together) and the index
      files of the ten trials, each a fresh random train / test split of the
      ids.
    - ``'llcm'``: ``train_vis``, ``train_nir``, ``test_vis`` (cam1..cam9),
      ``test_nir`` (no cam3) of ``<pid:04d>/<pid>_cNN_s..._f..._k.jpg``,
      ``idx/train_vis.txt``, ``idx/train_nir.txt``, ``idx/test_id.txt``;
      each id in 2-4 visible and 1-3 NIR cameras.

    ``num_images`` replaces ``num_imgs_per_cam`` by exact totals per split
    and modality (SYSU, LLCM), spread as evenly as possible over the ids and
    then over each id's cameras: :func:`preset_kwargs` gives those of the
    official releases (:data:`PRESETS`, e.g. SYSU-MM01's 22,258 RGB + 11,909
    IR training images of 395 ids).

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
        num_val_ids (int, optional): SYSU-MM01: training ids listed in
            ``val_id.txt``. Defaults to ``max(1, num_train_ids // 8)``.
        num_images (dict, optional): ``{'train': (rgb, ir), 'test': (rgb,
            ir)}`` image totals (SYSU, LLCM). Defaults to None
            (``num_imgs_per_cam`` per camera).

    Returns:
        str: Absolute path of the dataset root written.

    Example:
        >>> from mmvireid.testing import make_synthetic_vireid
        >>> root = make_synthetic_vireid('data/synthetic', 'sysu')
        >>> train_dataloader = dict(
        ...     dataset=dict(type='SYSUMM01Dataset', data_root=root))
        >>> # SYSU-MM01's counts at 32x16
        >>> make_synthetic_vireid('data/sysu_full', img_size=(32, 16),
        ...                       **preset_kwargs('sysu-full'))
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
    if num_val_ids is None:
        num_val_ids = max(1, num_train_ids // 8)
    if layout == 'sysu' and not 1 <= num_val_ids < num_train_ids:
        raise ValueError('make_synthetic_vireid: num_val_ids must be in '
                         f'[1, {num_train_ids}), got {num_val_ids}')
    if num_images is not None and (layout == 'regdb' or sorted(num_images)
                                   != ['test', 'train']):
        raise ValueError(
            'make_synthetic_vireid: num_images must be {"train": (rgb, ir), '
            '"test": (rgb, ir)} with the sysu or llcm layout (RegDB has ten '
            f'images per id and modality), got {num_images!r} for {layout!r}')
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
    counts = _ImageCounts(
        num_imgs_per_cam, num_images,
        dict(train=pids[:num_train_ids], test=pids[num_train_ids:]))
    if layout == 'sysu':
        _write_sysu(root, rng, persons, pids, num_train_ids, num_val_ids,
                    counts, img_size)
    elif layout == 'regdb':
        _write_regdb(root, rng, persons, pids, num_train_ids, img_size)
    else:
        _write_llcm(root, rng, persons, pids, num_train_ids, counts,
                    img_size)
    return root
