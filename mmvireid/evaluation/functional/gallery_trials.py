"""Queries and gallery of one evaluation trial of a setting.

:func:`trial_indices` is the one place where an evaluation setting (query
modality, gallery modality and cameras, single-shot / multi-shot / all) and
a trial number become the item indices of the queries and of the gallery;
the metric and the ranked-list tool both go through it. The gallery of a
trial is drawn either as the AGW family draws it (:func:`draw_gallery`,
Python's ``random`` seeded with the trial) or from the permutations of the
official SYSU-MM01 release (:func:`load_rand_perm_cam`,
:func:`official_gallery`).
"""
import os.path as osp
import random
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import scipy.io

#: Gallery modes understood by :func:`draw_gallery`.
GALLERY_MODES = ('single_shot', 'multi_shot', 'all')

#: Images per id per camera of the ``multi_shot`` mode.
MULTI_SHOT = 10

#: ``(camid, pid) -> (T, n) int64`` image numbers, row t the order of trial t
#: (what :func:`load_rand_perm_cam` returns).
RandPerm = Dict[Tuple[int, int], np.ndarray]


def draw_gallery(pids,
                 camids,
                 img_paths: Sequence[str],
                 seed: int,
                 gallery_cams: Optional[Sequence[int]] = None,
                 mode: str = 'single_shot',
                 num_shots: int = MULTI_SHOT) -> np.ndarray:
    """Draw the gallery of one trial from the gallery candidates.

    Reproduces the community draw (``process_gallery_sysu`` of AGW and
    ``process_gallery_llcm`` of DEEN, trial ``t`` seeded with ``t``):
    ``rng = random.Random(seed)``; for each id in increasing order, for each
    camera of ``gallery_cams`` in the given order, the candidates of that
    (id, camera) sorted by path; ``single_shot`` keeps ``rng.choice`` of them,
    ``multi_shot`` keeps ``rng.sample(candidates, min(num_shots, n))`` (the
    protocol's 10 images per id per camera). Pairs with no candidate are
    skipped and draw nothing. ``all`` keeps every candidate of the cameras
    (the fixed RegDB gallery) and ignores the seed.

    Args:
        pids (array-like): Person id of every candidate, shape (N,).
        camids (array-like): Camera number of every candidate, shape (N,).
        img_paths (Sequence[str]): Image path of every candidate, length N.
        seed (int): Trial seed (the community uses the trial index 0..9).
        gallery_cams (Sequence[int], optional): Cameras that form the
            gallery, in drawing order. None: every camera among the
            candidates, in increasing order. Defaults to None.
        mode (str): ``'single_shot'``, ``'multi_shot'`` or ``'all'``.
            Defaults to ``'single_shot'``.
        num_shots (int): Images per (id, camera) in ``multi_shot`` mode.
            Defaults to 10.

    Returns:
        np.ndarray: Indices of the selected candidates (int64), in drawing
        order (by index for ``all``), shape (M,).

    Example:
        >>> # SYSU-MM01 all-search gallery of trial 3
        >>> index = draw_gallery(pids, camids, img_paths, seed=3,
        ...                      gallery_cams=[1, 2, 4, 5])
    """
    if mode not in GALLERY_MODES:
        raise ValueError(f'draw_gallery: mode must be one of {GALLERY_MODES}'
                         f', got {mode!r}')
    if isinstance(num_shots, bool) or not isinstance(
            num_shots, (int, np.integer)) or num_shots < 1:
        raise ValueError('draw_gallery: num_shots must be a positive int, '
                         f'got {num_shots!r}')
    pids = np.asarray(pids)
    camids = np.asarray(camids)
    img_paths = np.asarray(img_paths, dtype=str)
    if pids.ndim != 1 or camids.shape != pids.shape \
            or img_paths.shape != pids.shape:
        raise ValueError('draw_gallery: pids, camids and img_paths must be 1-D'
                         ' and of equal length, got shapes '
                         f'{pids.shape}, {camids.shape}, {img_paths.shape}')
    cams = (np.unique(camids)
            if gallery_cams is None else np.asarray(gallery_cams))
    if cams.ndim != 1 or len(np.unique(cams)) != len(cams):
        raise ValueError('draw_gallery: gallery_cams must be a list of '
                         f'distinct camera numbers, got {gallery_cams!r}')

    in_gallery = np.isin(camids, cams)
    if mode == 'all':
        return np.flatnonzero(in_gallery)

    # Candidates grouped by (id, camera), each group sorted by path.
    index = np.flatnonzero(in_gallery)
    index = index[np.lexsort(
        (img_paths[index], camids[index], pids[index]))]
    pid_sorted, cam_sorted = pids[index], camids[index]
    new_group = np.concatenate(
        [[True], (pid_sorted[1:] != pid_sorted[:-1])
         | (cam_sorted[1:] != cam_sorted[:-1])])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], len(index))
    groups = {(pid, cam): index[start:end].tolist()
              for pid, cam, start, end in zip(pid_sorted[starts].tolist(),
                                              cam_sorted[starts].tolist(),
                                              starts, ends)}

    # The community draw consumes one random stream over ids x cameras in a
    # fixed order; a loop over these few hundred pairs is that order.
    rng = random.Random(seed)
    selected = []
    for pid in np.unique(pid_sorted).tolist():
        for cam in cams.tolist():
            candidates = groups.get((pid, cam))
            if candidates is None:
                continue
            if mode == 'single_shot':
                selected.append(rng.choice(candidates))
            else:
                selected.extend(
                    rng.sample(candidates, min(num_shots, len(candidates))))
    return np.asarray(selected, dtype=np.int64)


def setting_indices(setting: dict, is_query, is_gallery, modality,
                    camid) -> Tuple[np.ndarray, np.ndarray]:
    """Queries and gallery candidates of one evaluation setting.

    Queries are the ``is_query`` items of ``setting['query_modality']``;
    candidates the ``is_gallery`` items of ``setting['gallery_modality']``,
    restricted to ``setting['gallery_cams']`` unless it is None. A trial's
    gallery is then drawn from the candidates (:func:`trial_indices`).

    Args:
        setting (dict): A checked setting (``VIReIDMetric(...).settings``).
        is_query, is_gallery (array-like): Flags of every test item, (N,).
        modality, camid (array-like): ``modality`` and ``camid``, (N,).

    Returns:
        tuple: ``(q_index, c_index)``, int64 indices into the N items of the
        queries (Q,) and of the gallery candidates (C,), in item order.

    Example:
        >>> setting = VIReIDMetric(protocol='sysu').settings[0]  # 'all'
        >>> q_index, c_index = setting_indices(setting, is_query, is_gallery,
        ...                                    modality, camid)
    """
    query = np.asarray(is_query, dtype=bool) & (np.asarray(modality)
                                                == setting['query_modality'])
    candidate = np.asarray(is_gallery, dtype=bool) & (
        np.asarray(modality) == setting['gallery_modality'])
    if setting.get('gallery_cams') is not None:
        candidate &= np.isin(np.asarray(camid), setting['gallery_cams'])
    return np.flatnonzero(query), np.flatnonzero(candidate)


def trial_indices(setting: dict,
                  trial: int,
                  fields: Mapping[str, np.ndarray],
                  rand_perm: Optional[RandPerm] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Item indices of the queries and the gallery of one trial.

    The queries and candidates of :func:`setting_indices`; the gallery of
    trial ``trial`` (0-based) drawn from the candidates by the setting's
    ``gallery_mode``: every candidate for ``'all'``; else one
    (``'single_shot'``) or :data:`MULTI_SHOT` (``'multi_shot'``) images per
    id per camera, by :func:`draw_gallery` seeded with ``trial`` or, given
    ``rand_perm``, by :func:`official_gallery`.

    Args:
        setting (dict): A checked setting (``VIReIDMetric(...).settings``).
        trial (int): Trial number, 0-based.
        fields (Mapping[str, np.ndarray]): ``pid``, ``camid``, ``modality``,
            ``is_query``, ``is_gallery`` and ``img_path`` of the N test items,
            each of shape (N,).
        rand_perm (RandPerm, optional): Official permutations
            (:func:`load_rand_perm_cam`); None for the random draw. Defaults
            to None.

    Returns:
        tuple: ``(q_index, g_index)``, int64 indices into the N items of the
        Q queries (item order) and of the G gallery items (drawing order).

    Raises:
        ValueError: If the setting finds no query or no gallery candidate.

    Example:
        >>> setting = VIReIDMetric(protocol='sysu').settings[1]  # 'indoor'
        >>> q_index, g_index = trial_indices(setting, 3, fields)
    """
    q_index, c_index = setting_indices(setting, fields['is_query'],
                                       fields['is_gallery'],
                                       fields['modality'], fields['camid'])
    if not len(q_index) or not len(c_index):
        raise ValueError(
            f'setting {setting["name"]!r} found {len(q_index)} queries and '
            f'{len(c_index)} gallery candidates in {len(fields["camid"])} '
            'test samples; check is_query / is_gallery / modality / camid '
            'of the test set')
    pids = np.asarray(fields['pid'])[c_index]
    camids = np.asarray(fields['camid'])[c_index]
    img_paths = np.asarray(fields['img_path'])[c_index]
    mode = setting['gallery_mode']
    if rand_perm is None or mode == 'all':
        selected = draw_gallery(
            pids,
            camids,
            img_paths,
            seed=trial,
            gallery_cams=setting['gallery_cams'],
            mode=mode)
    else:
        selected = official_gallery(
            pids,
            camids,
            img_paths,
            trial,
            rand_perm,
            gallery_cams=setting['gallery_cams'],
            num_shots=1 if mode == 'single_shot' else MULTI_SHOT)
    return q_index, c_index[selected]


def load_rand_perm_cam(path: str) -> RandPerm:
    """Read the official SYSU-MM01 gallery permutations.

    The release's ``rand_perm_cam.mat`` (``data_split/`` of its evaluation
    code) holds ``rand_perm_cam``, a cell of the six cameras; the cell of
    camera c holds, for person id p (1-based position), a (T, n) matrix
    whose row t is a permutation of the n image numbers of camera c, id p
    (``cam<c>/<p:04d>/<number:04d>.jpg``); empty where the camera has no
    image of p. The official evaluation (``get_testing_set.m``) takes the
    first 1 (single-shot) or 10 (multi-shot) numbers of row t as the gallery
    of trial t.

    Args:
        path (str): Path of the ``.mat`` file.

    Returns:
        RandPerm: ``(camid, pid) -> (T, n) int64`` for every non-empty entry.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If the file does not have the official structure.

    Example:
        >>> rand_perm = load_rand_perm_cam('data/sysu/exp/rand_perm_cam.mat')
        >>> rand_perm[1, 5][0, :1]  # camera 1, id 5, trial 0, single-shot
        array([7])
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'load_rand_perm_cam: {path!r}: no such file'
                                ' (the official SYSU-MM01 evaluation\'s '
                                'data_split/rand_perm_cam.mat)')
    content = scipy.io.loadmat(path)
    cells = content.get('rand_perm_cam')
    if cells is None or cells.dtype != object:
        raise ValueError(
            f'load_rand_perm_cam: {path!r} must hold a cell array '
            f'"rand_perm_cam" (one cell per camera); found variables '
            f'{sorted(k for k in content if not k.startswith("__"))}')
    rand_perm = {}
    for camid, cell in enumerate(cells.ravel(), 1):
        cell = np.asarray(cell)
        if cell.dtype != object:
            raise ValueError(
                f'load_rand_perm_cam: {path!r}: rand_perm_cam{{{camid}}} '
                'must be a cell with one entry per person id, got a '
                f'{cell.dtype} array of shape {cell.shape}')
        for pid, perm in enumerate(cell.ravel(), 1):
            perm = np.asarray(perm)
            if perm.size == 0:
                continue
            if perm.ndim != 2 or not np.issubdtype(perm.dtype, np.number) \
                    or (perm != np.round(perm)).any() or (perm < 1).any():
                raise ValueError(
                    f'load_rand_perm_cam: {path!r}: rand_perm_cam{{{camid}}}'
                    f'{{{pid}}} must be a (trials, images) matrix of image '
                    f'numbers >= 1, got {perm.dtype} of shape {perm.shape}')
            rand_perm[camid, pid] = perm.astype(np.int64)
    return rand_perm


def image_numbers(img_paths: Sequence[str]) -> np.ndarray:
    """The number of each SYSU-MM01 image, from its name (``0007.jpg``: 7).

    Args:
        img_paths (Sequence[str]): Image paths, length N.

    Returns:
        np.ndarray: int64, shape (N,).
    """
    stems = [osp.splitext(osp.basename(p))[0] for p in img_paths]
    bad = [p for p, s in zip(img_paths, stems) if not s.isdigit()]
    if bad:
        raise ValueError(
            f'official gallery: {len(bad)} image names are not numbers as in '
            f'the SYSU-MM01 release (cam<c>/<pid>/<number>.jpg), e.g. '
            f'{bad[0]!r}')
    return np.array([int(s) for s in stems], dtype=np.int64)


def official_gallery(pids,
                     camids,
                     img_paths: Sequence[str],
                     trial: int,
                     rand_perm: RandPerm,
                     gallery_cams: Optional[Sequence[int]] = None,
                     num_shots: int = 1) -> np.ndarray:
    """The gallery of one trial as the official SYSU-MM01 evaluation draws it.

    For each camera of ``gallery_cams`` in the given order, for each id in
    increasing order, the candidates numbered ``rand_perm[camid, pid][trial,
    :num_shots]`` (``get_testing_set.m`` of the release). The permutations
    and the candidates must agree: an id with candidates in a camera needs a
    permutation there, and every number drawn must be a candidate.

    Args:
        pids (array-like): Person id of every candidate, shape (N,).
        camids (array-like): Camera number of every candidate, shape (N,).
        img_paths (Sequence[str]): Image path of every candidate, length N;
            the file name is the image number (``cam1/0005/0007.jpg``).
        trial (int): Trial number, 0-based (row ``trial`` of each matrix).
        rand_perm (RandPerm): What :func:`load_rand_perm_cam` returns.
        gallery_cams (Sequence[int], optional): Cameras of the gallery, in
            drawing order. None: every camera among the candidates, in
            increasing order. Defaults to None.
        num_shots (int): Images per id per camera: 1 (single-shot) or 10
            (multi-shot). Defaults to 1.

    Returns:
        np.ndarray: Indices of the selected candidates (int64), in drawing
        order, shape (M,).

    Raises:
        ValueError: If the permutations and the candidates disagree, or
            ``trial`` is beyond the trials of the file.

    Example:
        >>> index = official_gallery(pids, camids, img_paths, trial=0,
        ...                          rand_perm=rand_perm,
        ...                          gallery_cams=[1, 2, 4, 5])
    """
    pids, camids = np.asarray(pids), np.asarray(camids)
    numbers = image_numbers(img_paths)
    cams = (np.unique(camids)
            if gallery_cams is None else np.asarray(gallery_cams))
    candidate = {
        key: index
        for index, key in enumerate(
            zip(camids.tolist(), pids.tolist(), numbers.tolist()))
    }
    # The release's order: camera by camera, ids ascending; a loop over these
    # few hundred (camera, id) pairs, not over images.
    selected = []
    for camid in cams.tolist():
        in_camera = set(pids[camids == camid].tolist())
        for pid in np.unique(pids).tolist():
            perm = rand_perm.get((camid, pid))
            if perm is None:
                if pid in in_camera:
                    raise ValueError(
                        f'official gallery: the permutations have no entry '
                        f'for camera {camid}, id {pid}, which has gallery '
                        'candidates; is rand_perm_cam.mat the one of this '
                        'dataset?')
                continue
            if trial >= perm.shape[0]:
                raise ValueError(
                    f'official gallery: trial {trial} (0-based) asked, but '
                    f'the permutations hold {perm.shape[0]} trials (camera '
                    f'{camid}, id {pid})')
            for number in perm[trial, :num_shots].tolist():
                index = candidate.get((camid, pid, number))
                if index is None:
                    raise ValueError(
                        'official gallery: the permutations draw image '
                        f'cam{camid}/{pid:04d}/{number:04d}, which is not '
                        'among the gallery candidates; is rand_perm_cam.mat '
                        'the one of this dataset?')
                selected.append(index)
    return np.asarray(selected, dtype=np.int64)
