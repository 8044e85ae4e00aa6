"""Random gallery of one evaluation trial (SYSU-MM01 and LLCM protocols)."""
import random
from typing import Optional, Sequence

import numpy as np

#: Gallery modes understood by :func:`draw_gallery`.
GALLERY_MODES = ('single_shot', 'multi_shot', 'all')


def draw_gallery(pids,
                 camids,
                 img_paths: Sequence[str],
                 seed: int,
                 gallery_cams: Optional[Sequence[int]] = None,
                 mode: str = 'single_shot',
                 num_shots: int = 10) -> np.ndarray:
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
