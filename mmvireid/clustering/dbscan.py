"""DBSCAN pseudo-labels from a sparse precomputed distance matrix."""
import numpy as np
import scipy.sparse as sp
from sklearn.cluster import DBSCAN


def cluster_dbscan(distances: sp.spmatrix,
                   eps: float,
                   min_samples: int = 4) -> np.ndarray:
    """Pseudo-labels by scikit-learn's DBSCAN on sparse precomputed distances.

    scikit-learn treats a missing entry of a sparse precomputed matrix as
    "not a neighbour" and every stored entry, explicit zeros included, as a
    distance. The matrices of :func:`jaccard_distance` store every pair at
    distance < 1 (the diagonal and exact zeros explicitly), so for
    ``eps < 1`` the labels are exactly those of DBSCAN on the dense matrix
    with 1 in the missing entries. Entries above ``eps`` are dropped and rows
    sorted by distance before DBSCAN (both vectorised), which changes no
    neighbourhood and spares scikit-learn its per-row sort.

    Args:
        distances (scipy.sparse matrix): Distances of shape (N, N), every
            missing pair at distance ≥ 1.
        eps (float): DBSCAN radius, 0 < eps < 1 (neighbours: d ≤ eps).
        min_samples (int): Neighbours (self included) that make a core
            point. Defaults to 4.

    Returns:
        np.ndarray: Labels of shape (N,), int64, ``0..C-1`` in order of
        first core point, −1 for outliers (all −1 if no cluster forms).

    Example:
        >>> labels = cluster_dbscan(jaccard_distance(feats), eps=0.6)
    """
    if not sp.issparse(distances) or distances.ndim != 2 \
            or distances.shape[0] != distances.shape[1]:
        raise ValueError('cluster_dbscan: distances must be a square scipy '
                         'sparse matrix, got '
                         f'{type(distances).__name__} of shape '
                         f'{getattr(distances, "shape", None)}')
    if not 0 < eps < 1:
        raise ValueError(
            f'cluster_dbscan: eps must be in (0, 1), got {eps!r}; pairs '
            'missing from the sparse matrix are at distance 1 and would be '
            'neighbours for eps >= 1')
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) \
            or min_samples < 1:
        raise ValueError('cluster_dbscan: min_samples must be a positive int,'
                         f' got {min_samples!r}')
    distances = sp.csr_matrix(distances)
    num = distances.shape[0]
    # Same float32-vs-Python-float comparison as scikit-learn's radius query.
    keep = np.flatnonzero(distances.data <= eps)
    rows = np.searchsorted(distances.indptr, keep, side='right') - 1
    cols, data = distances.indices[keep], distances.data[keep]
    order = np.lexsort((data, rows))
    indptr = np.zeros(num + 1, dtype=np.int64)
    indptr[1:] = np.bincount(rows, minlength=num).cumsum()
    graph = sp.csr_matrix((data[order], cols[order], indptr), shape=(num, num))
    return DBSCAN(
        eps=eps, min_samples=min_samples,
        metric='precomputed').fit(graph).labels_.astype(np.int64)
