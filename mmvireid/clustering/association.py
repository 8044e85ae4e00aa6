"""Cross-modal association of RGB and IR clusters (PGM)."""
from typing import Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from .utils import check_features


def associate_clusters(rgb_centroids,
                       ir_centroids) -> Tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of RGB and IR clusters on centroid cosine cost.

    Cost of pairing RGB cluster a with IR cluster b: ``1 − cos(c_a, c_b)``.
    scipy's ``linear_sum_assignment`` finds the minimum-cost one-to-one
    matching; with unequal counts every cluster of the smaller side is
    matched and the surplus of the larger side stays unmatched. A modality
    with no clusters gives no pairs.

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
    rgb, ir = (_unit_rows(c, name)
               for c, name in ((rgb_centroids, 'rgb_centroids'),
                               (ir_centroids, 'ir_centroids')))
    if rgb.shape[1] != ir.shape[1]:
        raise ValueError('associate_clusters: rgb_centroids and ir_centroids '
                         f'must have the same dimension, got {rgb.shape[1]} '
                         f'and {ir.shape[1]}')
    if len(rgb) == 0 or len(ir) == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    cost = 1 - rgb @ ir.T
    rgb_index, ir_index = linear_sum_assignment(cost)
    pairs = np.stack([rgb_index, ir_index], axis=1).astype(np.int64)
    return pairs, cost[rgb_index, ir_index]


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
