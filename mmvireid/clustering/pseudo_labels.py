"""Pseudo-labels of one modality: Jaccard distance then DBSCAN, timed."""
import time
from typing import Dict, Tuple

import numpy as np
import torch
from torch import Tensor

from .dbscan import cluster_dbscan
from .jaccard_distance import check_k, sparse_jaccard
from .k_reciprocal import (k_reciprocal_encoding, k_reciprocal_sets,
                           query_expansion)
from .knn import exact_knn
from .utils import check_features


def pseudo_labels(
        features: Tensor,
        k1: int = 30,
        k2: int = 6,
        eps: float = 0.6,
        min_samples: int = 4,
        knn_backend: str = 'auto',
        block_size: int = 2048) -> Tuple[np.ndarray, Dict[str, float]]:
    """DBSCAN pseudo-labels on the k-reciprocal Jaccard distance, timed.

    The same labels as ``cluster_dbscan(jaccard_distance(...), eps)``
    (pairs farther than ``eps`` are not stored, DBSCAN never needs them),
    with the wall time of each phase (seconds, CUDA synchronised):
    ``knn`` (exact kNN), ``reciprocal`` (R(i, k1), R(i, round(k1/2))),
    ``encoding`` (expansion R*, V, query expansion), ``jaccard`` (sparse
    distances) and ``dbscan``, plus their ``total``.

    Args:
        features (Tensor | np.ndarray): Features of shape (N, D), usually
            L2-normalised.
        k1 (int): k-reciprocal neighbourhood size. Defaults to 30.
        k2 (int): Query-expansion size. Defaults to 6.
        eps (float): DBSCAN radius, in (0, 1). Defaults to 0.6 (SYSU-MM01;
            0.3 for RegDB).
        min_samples (int): DBSCAN core size. Defaults to 4.
        knn_backend (str): Backend of :func:`exact_knn`. Defaults to
            ``'auto'``.
        block_size (int): Tile side of the torch kNN. Defaults to 2048.

    Returns:
        tuple[np.ndarray, dict[str, float]]: Labels of shape (N,), int64
        (−1 = outlier), and the phase timings.

    Example:
        >>> labels, timings = pseudo_labels(rgb_feats, k1=30, k2=6, eps=0.6)
    """
    features = check_features(features)
    check_k(k1, k2, 'pseudo_labels')
    if not 0 < eps < 1:
        raise ValueError(f'pseudo_labels: eps must be in (0, 1), got {eps!r}')
    clock = _Clock(features.device)
    rank, similarities = exact_knn(
        features, k1, backend=knn_backend, block_size=block_size)
    clock.lap('knn')
    mask_k1, mask_half = k_reciprocal_sets(rank, k1)
    clock.lap('reciprocal')
    encoding = k_reciprocal_encoding(features, rank, similarities, mask_k1,
                                     mask_half)
    encoding = query_expansion(encoding, rank, k2)
    clock.lap('encoding')
    distances = sparse_jaccard(encoding, max_distance=eps)
    clock.lap('jaccard')
    labels = cluster_dbscan(distances, eps=eps, min_samples=min_samples)
    clock.lap('dbscan')
    clock.timings['total'] = sum(clock.timings.values())
    return labels, clock.timings


class _Clock:
    """Wall time of consecutive phases, synchronising CUDA before reading."""

    def __init__(self, device: torch.device):
        self.device = device
        self.timings: Dict[str, float] = {}
        self._last = self._now()

    def _now(self) -> float:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def lap(self, name: str) -> None:
        now = self._now()
        self.timings[name] = now - self._last
        self._last = now
