"""Sparse k-reciprocal Jaccard distance (methods.md §5.1).

The community implementation (cluster-contrast ``compute_jaccard_distance``)
builds dense N×N matrices with per-row Python loops. Pairs that share no
column of V are at distance exactly 1, and with ``eps < 1`` DBSCAN never
needs them, so here only the pairs sharing a column are computed and stored
(or, for DBSCAN, only those within eps): memory O(N·k + stored pairs) instead
of O(N²), every step vectorised in torch on the device of the features. See
``README.md`` in this folder for the measured speed and memory.
"""
from typing import List, Optional

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from .k_reciprocal import (k_reciprocal_encoding, k_reciprocal_sets,
                           query_expansion)
from .knn import exact_knn
from .utils import SparseRows, check_features, single_threaded

#: Triplets (i, j, c) handled at once by :func:`sparse_jaccard`.
TRIPLET_BUDGET = 1 << 21
#: Elements of the (rows, N) accumulators of :func:`sparse_jaccard`.
BUFFER_BUDGET = 1 << 24


def jaccard_distance(features: Tensor,
                     k1: int = 30,
                     k2: int = 6,
                     knn_backend: str = 'auto',
                     block_size: int = 2048,
                     max_distance: Optional[float] = None) -> sp.csr_matrix:
    """k-reciprocal Jaccard distance of every pair that shares a column of V.

    Exactly the distances of methods.md §5.1 (the community's dense
    ``compute_jaccard_distance``), stored sparse: an entry for every pair
    (i, j) whose encodings V[i], V[j] share a column, the diagonal stored as
    0 and exact zeros kept as explicit entries; every pair not stored is at
    distance 1. Degenerate inputs: with N ≤ k1 every kNN list holds all N
    rows (k2 likewise capped), as slicing the community's arrays would;
    duplicated features are each other's nearest neighbours right after
    themselves and (fewer than k1 copies) get identical encodings and
    distance 0 between them.

    Args:
        features (Tensor | np.ndarray): Features of shape (N, D), usually
            L2-normalised (V uses ``2 − 2·f_i·f_j`` as in the definition).
            Computed in float32 on ``features.device``.
        k1 (int): Size of the k-reciprocal neighbourhood. Defaults to 30.
        k2 (int): Query-expansion size (1 disables it). Defaults to 6.
        knn_backend (str): Backend of :func:`exact_knn`. Defaults to
            ``'auto'``.
        block_size (int): Tile side of the torch kNN. Defaults to 2048.
        max_distance (float, optional): If given, store only the pairs at
            distance ≤ ``max_distance`` (the diagonal always): all DBSCAN
            needs with ``eps = max_distance``, and usually a small part of
            the pairs sharing a column. Defaults to None (store them all).

    Returns:
        scipy.sparse.csr_matrix: Distances of shape (N, N), float32, sorted
        column indices, symmetric.

    Example:
        >>> feats = torch.nn.functional.normalize(torch.randn(500, 64), dim=1)
        >>> dist = jaccard_distance(feats, k1=30, k2=6)
        >>> labels = cluster_dbscan(dist, eps=0.6, min_samples=4)
    """
    features = check_features(features)
    check_k(k1, k2)
    rank, similarities = exact_knn(
        features, k1, backend=knn_backend, block_size=block_size)
    mask_k1, mask_half = k_reciprocal_sets(rank, k1)
    encoding = k_reciprocal_encoding(features, rank, similarities, mask_k1,
                                     mask_half)
    encoding = query_expansion(encoding, rank, k2)
    return sparse_jaccard(encoding, max_distance=max_distance)


def check_k(k1: int, k2: int) -> None:
    """Raise a ValueError unless ``k1`` and ``k2`` are positive ints."""
    for name, value in (('k1', k1), ('k2', k2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'jaccard_distance: {name} must be a positive '
                             f'int, got {value!r}')


@single_threaded
def sparse_jaccard(encoding: SparseRows,
                   max_distance: Optional[float] = None) -> sp.csr_matrix:
    """d(i, j) = 1 − m/(2 − m), m = Σ_c min(V[i,c], V[j,c]), sparse.

    Only pairs sharing a column of V have m > 0. For each stored V[i, c],
    every j > i of column c gives a triplet (i, j, min(V[i,c], V[j,c]));
    triplets of a chunk of rows are summed into a dense (rows, N) buffer
    with ``index_add_`` (no sort), and the distinct pairs are found by
    letting each triplet write its id into a second buffer and keeping the
    triplets whose id survived. The distances of the strict upper triangle
    are mirrored, and the diagonal (m_ii = Σ_c V[i,c] = 1, so
    d = 1 − 1/1 = 0) is stored as 0; exact zeros stay explicit entries.
    Negative distances (rounding) are set to 0.

    Args:
        encoding (SparseRows): V, shape (N, N), on any device.
        max_distance (float, optional): Keep only the pairs at distance
            ≤ ``max_distance`` (compared in float32, as scikit-learn's
            radius query does). Defaults to None (keep all).

    Returns:
        scipy.sparse.csr_matrix: Distances of shape (N, N), float32, sorted
        column indices, symmetric.

    Example:
        >>> dist = sparse_jaccard(query_expansion(v, rank, k2=6))
    """
    num = encoding.num_rows
    crow, cols, values = encoding
    device = cols.device
    rows = encoding.row_indices()
    # Column view of V: entries sorted by column, rows ascending inside
    # (int32: half the traffic of the per-triplet gathers).
    by_col = torch.sort(cols, stable=True).indices
    col_rows = rows.index_select(0, by_col).int()
    col_values = values.index_select(0, by_col)
    col_end = torch.bincount(cols, minlength=num).cumsum(0)
    position = torch.empty_like(by_col)
    position[by_col] = torch.arange(1, by_col.numel() + 1, device=device)
    # Triplets of entry (i, c): the rows j > i of column c, after its slot.
    counts = col_end.index_select(0, cols) - position
    row_triplets = torch.zeros(num + 1, dtype=torch.long, device=device)
    row_triplets[1:] = torch.zeros(
        num, dtype=torch.long, device=device).index_add_(0, rows,
                                                         counts).cumsum(0)
    max_rows = min(num, max(1, BUFFER_BUDGET // num))
    accumulator = torch.zeros(max_rows * num, device=device)
    writer = torch.empty(max_rows * num, dtype=torch.int32, device=device)

    row_counts, upper_cols, upper_dist = [], [], []
    start = 0
    while start < num:
        stop = int(
            torch.searchsorted(
                row_triplets, row_triplets[start] + TRIPLET_BUDGET,
                right=True))
        stop = min(max(stop - 1, start + 1), start + max_rows, num)
        entries = slice(int(crow[start]), int(crow[stop]))
        entry_counts = counts[entries]
        total = int(row_triplets[stop] - row_triplets[start])
        # Triplet t of entry e reads column slot position[e] + t - first[e].
        triplet_id = torch.arange(total, dtype=torch.int32, device=device)
        shift = position[entries] - (entry_counts.cumsum(0) - entry_counts)
        slot = torch.repeat_interleave(
            shift.int(), entry_counts, output_size=total).add_(triplet_id)
        key = torch.repeat_interleave(
            (rows[entries] - start) * num, entry_counts,
            output_size=total).add_(col_rows.index_select(0, slot))
        sums = torch.repeat_interleave(
            values[entries], entry_counts, output_size=total)
        torch.minimum(sums, col_values.index_select(0, slot), out=sums)
        del slot
        accumulator.index_add_(0, key, sums)
        # Distinct pairs: the triplets whose id survived in the writer.
        writer.index_copy_(0, key, triplet_id)
        unique_key = key[writer.index_select(0, key) == triplet_id]
        del key, sums, triplet_id
        pair_sums = accumulator.index_select(0, unique_key)
        accumulator.index_fill_(0, unique_key, 0)
        dist = (1 - pair_sums / (2 - pair_sums)).clamp_(min=0)
        if max_distance is not None:
            near = dist <= max_distance
            unique_key, dist = unique_key[near], dist[near]
        unique_key, order = unique_key.sort()
        dist = dist.index_select(0, order)
        row_counts.append(
            torch.bincount(unique_key // num, minlength=stop - start).cpu())
        upper_cols.append((unique_key % num).int().cpu())
        upper_dist.append(dist.cpu())
        start = stop
    del accumulator, writer
    return _symmetric_csr(row_counts, upper_cols, upper_dist)


def _symmetric_csr(row_counts: List[Tensor], cols: List[Tensor],
                   dist: List[Tensor]) -> sp.csr_matrix:
    """Full CSR from the strict upper triangle U, given per chunk of rows.

    Row i of the result is row i of Uᵀ (columns < i), then the diagonal
    (stored 0), then row i of U (columns > i): already sorted, so each run
    of entries goes straight to its slots. Uᵀ comes from scipy's O(nnz)
    CSR → CSC. The lists are emptied, so U is freed once copied.
    """
    row_counts, cols, dist = (
        _pop_cat(parts) for parts in (row_counts, cols, dist))
    num = len(row_counts)
    nnz = 2 * len(cols) + num
    index_dtype = np.int32 if nnz < 2**31 else np.int64
    upper_ptr = np.zeros(num + 1, dtype=index_dtype)
    np.cumsum(row_counts, out=upper_ptr[1:])
    upper = sp.csr_matrix((dist, cols, upper_ptr), shape=(num, num))
    del dist, cols
    lower = upper.tocsc()  # its CSC arrays are the CSR arrays of Uᵀ
    lower_counts = np.diff(lower.indptr).astype(index_dtype)
    indptr = np.zeros(num + 1, dtype=index_dtype)
    np.cumsum(lower_counts + 1 + row_counts, out=indptr[1:])
    indices = np.empty(nnz, dtype=index_dtype)
    data = np.empty(nnz, dtype=np.float32)
    diagonal = indptr[:-1] + lower_counts
    indices[diagonal] = np.arange(num)
    data[diagonal] = 0
    _copy_rows(lower, indptr[:-1], indices, data)
    del lower
    _copy_rows(upper, diagonal + 1, indices, data)
    return sp.csr_matrix((data, indices, indptr), shape=(num, num))


def _pop_cat(parts: List[Tensor]) -> np.ndarray:
    """Concatenate CPU tensors into an array and empty the list."""
    out = torch.cat(parts).numpy()
    parts.clear()
    return out


def _copy_rows(part, starts: np.ndarray, indices: np.ndarray,
               data: np.ndarray) -> None:
    """Copy row i of a compressed matrix to ``indices/data[starts[i]:]``.

    Rows go in blocks of about ``TRIPLET_BUDGET`` entries, which bounds
    the slot arrays.
    """
    ptr = part.indptr
    bounds = np.unique(np.r_[np.searchsorted(
        ptr, np.arange(0, ptr[-1], TRIPLET_BUDGET), side='right') - 1,
                             len(ptr) - 1])
    for first, last in zip(bounds[:-1], bounds[1:]):
        lo, hi = ptr[first], ptr[last]
        slots = np.repeat(starts[first:last] - ptr[first:last],
                          np.diff(ptr[first:last + 1]))
        slots += np.arange(lo, hi, dtype=slots.dtype)
        indices[slots] = part.indices[lo:hi]
        data[slots] = part.data[lo:hi]
