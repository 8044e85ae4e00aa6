"""Cross-modal association of RGB and IR clusters: ours, PGM's and ADCA's.

An association is a list of ``[rgb_label, ir_label]`` pairs in priority
order: a cluster that appears in several pairs (a many-to-one association)
is associated with the partner of its first pair
(:func:`association_mappings`).
"""
from typing import Dict, Tuple, Union

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from mmvireid.structures import IR, RGB
from .centroids import cluster_centroids
from .utils import check_features

#: The association methods and the keyword arguments each takes.
ASSOCIATIONS: Dict[str, Tuple[str, ...]] = {
    'hungarian': (),
    'pgm': ('symmetric', ),
    'adca': ('threshold', 'block_size'),
}


def check_association(association: Union[str, dict],
                      owner: str = 'cross_modal_pseudo_labels'
                      ) -> Tuple[str, dict]:
    """The method and keyword arguments of an ``association`` setting.

    Args:
        association (str | dict): A method of :data:`ASSOCIATIONS`
            (``'hungarian'``, ``'pgm'``, ``'adca'``), or a dict with its
            ``type`` and keyword arguments, e.g.
            ``dict(type='pgm', symmetric=True)``.
        owner (str): Who takes the setting, for the message.

    Returns:
        tuple[str, dict]: The method and its keyword arguments.

    Raises:
        ValueError: Naming the unknown method or argument.
    """
    cfg = dict(type=association) if isinstance(association, str) else \
        dict(association) if isinstance(association, dict) else None
    method = None if cfg is None else cfg.pop('type', None)
    if method not in ASSOCIATIONS:
        raise ValueError(
            f'{owner}: association must be one of {tuple(ASSOCIATIONS)} or a '
            f"dict with one of them as 'type', got {association!r}")
    unknown = sorted(set(cfg) - set(ASSOCIATIONS[method]))
    if unknown:
        raise ValueError(
            f"{owner}: association '{method}' takes "
            f'{list(ASSOCIATIONS[method]) or "no argument"}, got {unknown}')
    return method, cfg


def associate_clusters(rgb_centroids,
                       ir_centroids) -> Tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of RGB and IR clusters on centroid cosine cost.

    Ours (``association='hungarian'``). Cost of pairing RGB cluster a with
    IR cluster b: ``1 − cos(c_a, c_b)``. scipy's ``linear_sum_assignment``
    finds the minimum-cost one-to-one matching; with unequal counts every
    cluster of the smaller side is matched and the surplus of the larger
    side stays unmatched. A modality with no clusters gives no pairs.

    Args:
        rgb_centroids (Tensor | np.ndarray): RGB centroids of shape
            (C_rgb, D), any norm except 0.
        ir_centroids (Tensor | np.ndarray): IR centroids of shape (C_ir, D).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``pairs`` of shape
        (min(C_rgb, C_ir), 2), int64, rows ``[rgb_label, ir_label]`` in
        ascending RGB label, and ``costs`` of shape (min(C_rgb, C_ir),),
        float64, their ``1 − cos``.

    Example:
        >>> pairs, costs = associate_clusters(
        ...     cluster_centroids(rgb_feats, rgb_labels),
        ...     cluster_centroids(ir_feats, ir_labels))
    """
    cos = _centroid_cosines(rgb_centroids, ir_centroids)
    if cos.size == 0:
        return _no_pairs()
    rgb_index, ir_index = linear_sum_assignment(1 - cos)
    pairs = np.stack([rgb_index, ir_index], axis=1).astype(np.int64)
    return pairs, 1 - cos[rgb_index, ir_index]


def progressive_graph_matching(
        rgb_centroids,
        ir_centroids,
        symmetric: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """PGM's association: every cluster of the larger side gets a partner.

    As PGM's released code (zesenwu23/USL-VI-ReID, ``train_sysu.py``
    L816–847, ``train_regdb.py`` L682–739), with the larger modality L and
    the smaller S (RGB and IR when ``C_rgb >= C_ir``):

    1. Hungarian matching of L to S on the cost ``exp(−cos)`` of the
       L2-normalised centroids: every S cluster gets a distinct L partner.
       (PGM pads the cost with zero columns to a square matrix and takes the
       L clusters matched to a padding column as unmatched; a padding column
       costs 0 for every row, so that optimum is this rectangular one.)
    2. The L clusters left over get a second Hungarian round against all S
       clusters, so each has an S partner (many-to-one). When more than
       ``C_S`` are left over (``C_L > 2 C_S``) the round matches ``C_S`` of
       them and the others stay unmatched (PGM's code would then fail with
       a ``KeyError`` on a batch holding one of them).

    The pairs of round 1 come first: an S cluster is associated with its
    round-1 partner (PGM's ``i2r`` on SYSU-MM01), an L cluster with its
    only one (``r2i``). When ``C_rgb < C_ir``, PGM's SYSU-MM01 code
    associates nothing (``symmetric=False``: no pairs, so no cross term that
    epoch) and its RegDB code runs the same with IR as L
    (``symmetric=True``). A modality with no clusters gives no pairs.

    Args:
        rgb_centroids (Tensor | np.ndarray): (C_rgb, D), any norm except 0.
        ir_centroids (Tensor | np.ndarray): (C_ir, D).
        symmetric (bool): Match IR to RGB when ``C_rgb < C_ir``.
            Defaults to False (PGM's SYSU-MM01 code).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``pairs`` (P, 2) int64 rows
        ``[rgb_label, ir_label]``, round 1 then round 2, each in ascending
        label of L; ``costs`` (P,) float64, their ``1 − cos``.

    Example:
        >>> pairs, costs = progressive_graph_matching(
        ...     cluster_centroids(rgb_feats, rgb_labels),
        ...     cluster_centroids(ir_feats, ir_labels))
    """
    cos = _centroid_cosines(rgb_centroids, ir_centroids)
    if cos.size == 0:
        return _no_pairs()
    swap = cos.shape[0] < cos.shape[1]
    if swap and not symmetric:
        return _no_pairs()
    large_by_small = cos.T if swap else cos
    cost = np.exp(-large_by_small)
    large, small = linear_sum_assignment(cost)  # round 1
    left = np.setdiff1d(np.arange(cost.shape[0]), large)
    extra_rows, extra_small = linear_sum_assignment(cost[left])  # round 2
    large = np.concatenate([large, left[extra_rows]])
    small = np.concatenate([small, extra_small])
    pairs = np.stack([small, large] if swap else [large, small],
                     axis=1).astype(np.int64)
    return pairs, 1 - cos[pairs[:, RGB], pairs[:, IR]]


@torch.no_grad()
def instance_vote_association(
        rgb_features,
        rgb_labels,
        ir_features,
        ir_labels,
        threshold: float = 0.5,
        block_size: int = 2048) -> Tuple[np.ndarray, np.ndarray]:
    """ADCA's association: clusters voted for by similar image pairs.

    As ADCA's cross-modality memory aggregation selects its pairs
    (yangbincv/ADCA, ``adca_sysu_train.py`` L814–849, ``select_merge_data``
    L358–366): every pair of an RGB and an IR image whose features have an
    inner product ``>= threshold`` votes for the pair of their clusters
    (outliers do not vote); cluster pairs are taken greedily by decreasing
    votes, ties by decreasing largest image similarity (the order of their
    first vote in ADCA's sorted list), each cluster at most once
    (one-to-one). The inner products are those of the features as given:
    ADCA clusters features of norm <= 1 (:class:`ClusteringHook`'s
    ``flip_fusion='mean_of_normalized'``), so they are cosines only for unit
    features. Computed in blocks of RGB rows on the features' device, never
    as the dense ``N_rgb x N_ir`` matrix ADCA sorts (1 GB at SYSU-MM01's
    size).

    Args:
        rgb_features (Tensor | np.ndarray): (N_rgb, D).
        rgb_labels (Tensor | np.ndarray): (N_rgb,) clusters ``0..C_rgb-1``,
            -1 for outliers.
        ir_features (Tensor | np.ndarray): (N_ir, D).
        ir_labels (Tensor | np.ndarray): (N_ir,).
        threshold (float): Smallest inner product that votes. Defaults to
            0.5 (ADCA).
        block_size (int): RGB rows per block. Defaults to 2048.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``pairs`` (P, 2) int64 rows
        ``[rgb_label, ir_label]`` in the greedy order, and ``costs`` (P,)
        float64, the ``1 − cos`` of their L2-normalised centroids.

    Example:
        >>> pairs, costs = instance_vote_association(
        ...     rgb_feats, rgb_labels, ir_feats, ir_labels, threshold=0.5)
    """
    rgb_labels, ir_labels = (torch.as_tensor(
        np.asarray(labels) if not isinstance(labels, torch.Tensor) else
        labels).long() for labels in (rgb_labels, ir_labels))
    num_rgb, num_ir = (int(labels.max()) + 1 if labels.numel() else 0
                       for labels in (rgb_labels, ir_labels))
    if num_rgb == 0 or num_ir == 0:
        return _no_pairs()
    rgb_features = check_features(rgb_features, 'rgb_features')
    ir_features = check_features(ir_features, 'ir_features').to(
        rgb_features.device)
    for name, feats, labels in (('rgb', rgb_features, rgb_labels),
                                ('ir', ir_features, ir_labels)):
        if labels.shape != feats.shape[:1]:
            raise ValueError(
                f'instance_vote_association: {name}_labels must have shape '
                f'({feats.shape[0]},), got {tuple(labels.shape)}')
    rgb_labels = rgb_labels.to(rgb_features.device)
    ir_labels = ir_labels.to(rgb_features.device)
    device = rgb_features.device
    votes = torch.zeros(num_rgb * num_ir, dtype=torch.long, device=device)
    best = torch.full((num_rgb * num_ir, ), -float('inf'), device=device)
    ir_kept = torch.nonzero(ir_labels >= 0).flatten()
    ir_feats, ir_ids = ir_features[ir_kept], ir_labels[ir_kept]
    rgb_kept = torch.nonzero(rgb_labels >= 0).flatten()
    for start in range(0, len(rgb_kept), block_size):
        rows = rgb_kept[start:start + block_size]
        sims = rgb_features[rows] @ ir_feats.T
        rgb_index, ir_index = torch.nonzero(sims >= threshold, as_tuple=True)
        keys = rgb_labels[rows][rgb_index] * num_ir + ir_ids[ir_index]
        votes += torch.bincount(keys, minlength=votes.numel())
        best.scatter_reduce_(0, keys, sims[rgb_index, ir_index], 'amax')
    voted = torch.nonzero(votes).flatten().cpu().numpy()
    order = np.lexsort((-best.cpu().numpy()[voted],
                        -votes.cpu().numpy()[voted]))
    candidates = np.stack(np.divmod(voted[order], num_ir), axis=1)
    pairs = _greedy_one_to_one(candidates)
    cos = _centroid_cosines(
        cluster_centroids(rgb_features, rgb_labels),
        cluster_centroids(ir_features, ir_labels))
    return pairs, 1 - cos[pairs[:, RGB], pairs[:, IR]]


def association_mappings(pairs, num_rgb: int,
                         num_ir: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The associated cluster of every cluster, from pairs in priority order.

    A cluster in several pairs takes the partner of its first pair; one in
    none gets -1.

    Args:
        pairs (Tensor | np.ndarray): (P, 2) rows ``[rgb_label, ir_label]``.
        num_rgb (int): C_rgb.
        num_ir (int): C_ir.

    Returns:
        tuple[Tensor, Tensor]: ``rgb_to_ir`` (C_rgb,) and ``ir_to_rgb``
        (C_ir,), int64, on the device of ``pairs`` (CPU for an array).

    Example:
        >>> rgb_to_ir, ir_to_rgb = association_mappings(pairs, 898, 444)
    """
    pairs = torch.as_tensor(np.asarray(pairs) if not isinstance(
        pairs, torch.Tensor) else pairs).long().reshape(-1, 2)
    order = torch.arange(len(pairs), device=pairs.device)
    mappings = []
    for modality, other, size in ((RGB, IR, num_rgb), (IR, RGB, num_ir)):
        first = torch.full((size, ), len(pairs), device=pairs.device)
        first.scatter_reduce_(0, pairs[:, modality], order, 'amin')
        found = first < len(pairs)
        mapping = torch.full((size, ), -1, dtype=torch.long,
                             device=pairs.device)
        mapping[found] = pairs[first[found], other]
        mappings.append(mapping)
    return tuple(mappings)


def _greedy_one_to_one(candidates: np.ndarray) -> np.ndarray:
    """Keep each candidate pair whose clusters are both still free, in
    order. (A sequential scan: each choice depends on the earlier ones; at
    most C_rgb x C_ir candidates, once per clustering.)"""
    used = [set(), set()]
    kept = []
    for rgb, ir in candidates.tolist():
        if rgb not in used[RGB] and ir not in used[IR]:
            kept.append((rgb, ir))
            used[RGB].add(rgb)
            used[IR].add(ir)
    return np.array(kept, dtype=np.int64).reshape(-1, 2)


def _no_pairs() -> Tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 2), dtype=np.int64), np.zeros(0)


def _centroid_cosines(rgb_centroids, ir_centroids) -> np.ndarray:
    """(C_rgb, C_ir) float64 cosines; empty when a side has no cluster."""
    rgb, ir = (_unit_rows(c, name)
               for c, name in ((rgb_centroids, 'rgb_centroids'),
                               (ir_centroids, 'ir_centroids')))
    if rgb.shape[1] != ir.shape[1]:
        raise ValueError('associate_clusters: rgb_centroids and ir_centroids '
                         f'must have the same dimension, got {rgb.shape[1]} '
                         f'and {ir.shape[1]}')
    return rgb @ ir.T


def _unit_rows(centroids, name: str) -> np.ndarray:
    """Float64 rows of unit norm; an empty (0, D) set is allowed."""
    shape = tuple(getattr(centroids, 'shape', ()))
    if len(shape) == 2 and shape[0] == 0:
        return np.zeros(shape)
    centroids = check_features(centroids, name).cpu().double().numpy()
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f'associate_clusters: {name} has all-zero rows '
                         f'{np.flatnonzero(norms[:, 0] == 0).tolist()}')
    return centroids / norms
