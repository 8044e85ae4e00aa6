"""Dense reference of the k-reciprocal Jaccard distance, for tests and
benchmarks only.

A slow, straightforward restatement of docs/en/recipes.md §5.1, written the
way the community code does it (cluster-contrast
``clustercontrast/utils/faiss_rerank.py::compute_jaccard_distance``): a
faiss kNN, per-row Python loops and dense N×N float32 matrices (about 2 GB
each at N = 22,120). It shares no code with :mod:`mmvireid.clustering`, so
the fast sparse implementation is checked against an independent one: the
tests compare them on small inputs, and
``tools/analysis_tools/benchmark_clustering.py`` times both at full size.
"""
from typing import Optional

import faiss
import numpy as np
import torch
import torch.nn.functional as F


def dense_knn(features, k: int) -> np.ndarray:
    """kNN lists by ``faiss.IndexFlatL2`` (squared L2), as the community.

    Args:
        features (Tensor | np.ndarray): Features of shape (N, D).
        k (int): Neighbours per row, self included; capped at N.

    Returns:
        np.ndarray: ``rank`` of shape (N, min(k, N)), int64, nearest first.
        faiss puts row i first unless a duplicate of it ties with it.
    """
    features = np.ascontiguousarray(np.asarray(features, dtype=np.float32))
    index = faiss.IndexFlatL2(features.shape[1])
    index.add(features)
    return index.search(features, min(k, len(features)))[1]


def dense_jaccard(features,
                  k1: int = 30,
                  k2: int = 6,
                  rank: Optional[np.ndarray] = None) -> np.ndarray:
    """k-reciprocal Jaccard distance of every pair, as a dense matrix.

    Args:
        features (Tensor | np.ndarray): Features of shape (N, D).
        k1 (int): k-reciprocal neighbourhood size. Defaults to 30.
        k2 (int): Query-expansion size (1: none). Defaults to 6.
        rank (np.ndarray, optional): kNN lists of shape (N, min(k1, N)),
            nearest first; by default :func:`dense_knn`. Tests pass the
            lists of another kNN when distance ties make several orders
            valid.

    Returns:
        np.ndarray: Distances of shape (N, N), float32; 1 for pairs whose
        encodings share no column.

    Example:
        >>> dist = dense_jaccard(torch.randn(50, 8), k1=10, k2=3)
        >>> labels = DBSCAN(eps=0.6, min_samples=4,
        ...                 metric='precomputed').fit(dist).labels_
    """
    features = torch.as_tensor(np.asarray(features, dtype=np.float32))
    num = features.size(0)
    if rank is None:
        rank = dense_knn(features.numpy(), k1)

    def reciprocal(i, k):
        # R(i, k): j among the first k + 1 of rank[i] with i among theirs.
        forward = rank[i, :k + 1]
        backward = rank[forward, :k + 1]
        return forward[np.where(backward == i)[0]]

    nn_k1 = [reciprocal(i, k1) for i in range(num)]
    nn_half = [reciprocal(i, int(np.around(k1 / 2))) for i in range(num)]
    v = np.zeros((num, num), dtype=np.float32)
    for i in range(num):
        expansion = nn_k1[i]
        for candidate in nn_k1[i]:
            half = nn_half[candidate]
            if len(np.intersect1d(half, nn_k1[i])) > 2 / 3 * len(half):
                expansion = np.append(expansion, half)
        expansion = np.unique(expansion)
        dist = 2 - 2 * torch.mm(features[i][None], features[expansion].t())
        v[i, expansion] = F.softmax(-dist, dim=1).view(-1).numpy()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(0) for i in range(num)])
    inv_index = [np.where(v[:, c] != 0)[0] for c in range(num)]
    jaccard = np.zeros((num, num), dtype=np.float32)
    for i in range(num):
        temp_min = np.zeros((1, num), dtype=np.float32)
        for c in np.where(v[i] != 0)[0]:
            temp_min[0, inv_index[c]] += np.minimum(v[i, c],
                                                    v[inv_index[c], c])
        jaccard[i] = 1 - temp_min / (2 - temp_min)
    jaccard[jaccard < 0] = 0
    return jaccard
