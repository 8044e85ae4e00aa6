"""Sparse k-reciprocal Jaccard distance (docs/en/recipes.md §5.1).

The community implementation (cluster-contrast ``compute_jaccard_distance``)
builds dense N×N matrices with per-row Python loops. Pairs that share no
column of V are at distance exactly 1, and with ``eps < 1`` DBSCAN never
needs them, so here only the pairs sharing a column are computed and stored
(or, for DBSCAN, only those within eps): memory O(N·k + stored pairs) instead
of O(N²), every step vectorised in torch on the device of the features. See
``README.md`` in this folder for the measured speed and memory.
"""
from typing import Iterator, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from .k_reciprocal import (k_reciprocal_encoding, k_reciprocal_sets,
                           query_expansion)
from .knn import exact_knn
from .utils import (SparseRows, check_features, cpu_workers, map_threads,
                    single_threaded)

#: Triplets (i, j, c) handled at once by :func:`sparse_jaccard`.
TRIPLET_BUDGET = 1 << 18
#: Consecutive partners of an entry of V read at once.
PIECE = 16
#: Elements of a (rows, N) accumulator of :func:`sparse_jaccard` (2 MiB,
#: a core's L2 cache here: its scattered adds stay in the cache).
REGION_BUDGET = 1 << 19


def jaccard_distance(features: Tensor,
                     k1: int = 30,
                     k2: int = 6,
                     knn_backend: str = 'auto',
                     block_size: int = 2048,
                     max_distance: Optional[float] = None) -> sp.csr_matrix:
    """k-reciprocal Jaccard distance of every pair that shares a column of V.

    Exactly the distances of docs/en/recipes.md §5.1 (the community's dense
    ``compute_jaccard_distance``), stored sparse: an entry for every pair
    (i, j) whose encodings V[i], V[j] share a column, the diagonal stored as
    0 and exact zeros kept as explicit entries; every pair not stored is at
    distance 1. Degenerate inputs: with N ≤ k1 every kNN list holds all N
    rows (k2 likewise capped), as slicing the community's arrays would;
    duplicated features are each other's nearest neighbours right after
    themselves and (fewer than k1 copies) get identical encodings and
    distance 0 between them, unless the kNN list of another point ends
    among them (distance ties go to the smaller index, so that list keeps
    some copies and not the others).

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
    check_k(k1, k2, 'jaccard_distance')
    rank, similarities = exact_knn(
        features, k1, backend=knn_backend, block_size=block_size)
    mask_k1, mask_half = k_reciprocal_sets(rank, k1)
    encoding = k_reciprocal_encoding(features, rank, similarities, mask_k1,
                                     mask_half)
    encoding = query_expansion(encoding, rank, k2)
    return sparse_jaccard(encoding, max_distance=max_distance)


def check_k(k1: int, k2: int, caller: str) -> None:
    """Raise a ValueError naming ``caller`` unless ``k1`` and ``k2`` are
    positive ints."""
    for name, value in (('k1', k1), ('k2', k2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{caller}: {name} must be a positive int, got '
                             f'{value!r}')


@single_threaded
def sparse_jaccard(encoding: SparseRows,
                   max_distance: Optional[float] = None) -> sp.csr_matrix:
    """d(i, j) = 1 − m/(2 − m), m = Σ_c min(V[i,c], V[j,c]), sparse.

    Only pairs sharing a column of V have m > 0. For each stored V[i, c],
    every j > i of column c gives a triplet (i, j, min(V[i,c], V[j,c])).
    Rows go in chunks whose (rows, N − first row) accumulator stays within
    ``REGION_BUDGET`` elements (cache-sized): the triplets of a chunk are
    summed into it with ``index_add_`` (no sort), and the pairs are read
    back by scanning it for m > 0 (or, with ``max_distance``, for m above
    the matching bound), already sorted. The chunks run on
    :func:`~mmvireid.clustering.utils.map_threads`. The distances of the
    strict upper triangle are mirrored, and the diagonal (m_ii = Σ_c V[i,c]
    = 1, so d = 1 − 1/1 = 0) is stored as 0; exact zeros stay explicit
    entries. Negative distances (rounding) are set to 0.

    Args:
        encoding (SparseRows): V, shape (N, N), on any device; every stored
            value > 0 (softmax weights and their means are).
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
    # Column view of V: entries sorted by column, rows ascending inside,
    # each column followed by PIECE − 1 sentinels (row N − 1, value 0), so
    # that a piece of PIECE slots starting inside a column is read whole.
    by_col = _column_order(encoding)
    col_sizes = torch.bincount(cols, minlength=num)
    col_slot = torch.arange(cols.numel(), device=device).add_(
        torch.repeat_interleave(
            torch.arange(num, device=device) * (PIECE - 1),
            col_sizes,
            output_size=cols.numel()))
    view_size = cols.numel() + num * (PIECE - 1) + PIECE
    col_rows = torch.full((view_size, ),
                          num - 1,
                          dtype=torch.int32,
                          device=device)
    col_rows[col_slot] = rows.index_select(0, by_col).int()
    col_values = torch.zeros(view_size, device=device)
    col_values[col_slot] = values.index_select(0, by_col)
    col_rows, col_values = (view.unfold(0, PIECE, 1)
                            for view in (col_rows, col_values))
    # Slot after each entry's own in the column view, and its partners:
    # the rows j > i of its column, at slots first_partner .. column end.
    first_partner = torch.empty_like(by_col)
    first_partner[by_col] = col_slot + 1
    position = torch.empty_like(by_col)
    position[by_col] = torch.arange(1, cols.numel() + 1, device=device)
    counts = col_sizes.cumsum(0).index_select(0, cols) - position
    row_triplets = torch.zeros(num + 1, dtype=torch.long, device=device)
    torch.cumsum(
        torch.zeros(num, dtype=torch.long,
                    device=device).index_add_(0, rows, counts),
        0,
        out=row_triplets[1:])
    row_triplets = row_triplets.cpu()
    # m ≥ bound ⇔ 1 − m/(2 − m) ≤ max_distance; the scan keeps a margin,
    # the float32 distance decides.
    bound = 0. if max_distance is None or max_distance >= 1 else \
        (1 - 1e-4) * 2 * (1 - max_distance) / (2 - max_distance)
    workers = 1 if device.type == 'cuda' else cpu_workers()
    regions = [
        torch.zeros(max(REGION_BUDGET, num), device=device)
        for _ in range(workers)
    ]

    def chunk_pairs(chunk):
        start, stop = chunk
        width = num - start
        entries = slice(int(crow[start]), int(crow[stop]))
        # The partners of an entry, in pieces of PIECE consecutive slots.
        entry_counts = counts[entries]
        entry_pieces = (entry_counts + PIECE - 1) // PIECE
        owner = torch.repeat_interleave(entry_pieces)
        offset = torch.arange(owner.numel(), device=device).sub_(
            (entry_pieces.cumsum(0) - entry_pieces).index_select(0, owner))
        offset *= PIECE
        piece_start = first_partner[entries].index_select(0, owner) + offset
        # Key of (i, j) in the region: (i − start)·width + j − start; the
        # sentinels past a column end add 0 to pair (i, N − 1).
        key = col_rows.index_select(0, piece_start).add_(
            ((rows[entries] - start) * width - start).int().index_select(
                0, owner)[:, None])
        sums = torch.minimum(
            col_values.index_select(0, piece_start),
            values[entries].index_select(0, owner)[:, None])
        region = regions.pop()
        used = region[:(stop - start) * width]
        used.index_add_(0, key.view(-1), sums.view(-1))
        del key, sums
        pairs = _positions_above(used, bound)
        pair_sums = used.index_select(0, pairs)
        used.zero_()
        regions.append(region)
        dist = (1 - pair_sums / (2 - pair_sums)).clamp_(min=0)
        if max_distance is not None:
            near = dist <= max_distance
            pairs, dist = pairs[near], dist[near]
        return (torch.bincount(pairs // width, minlength=stop - start).cpu(),
                (pairs % width + start).int().cpu(), dist.cpu())

    results = list(
        zip(*map_threads(chunk_pairs, _row_chunks(row_triplets, num),
                         workers)))
    return _symmetric_csr(*(list(part) for part in results))


def _row_chunks(row_triplets: Tensor, num: int) -> Iterator[Tuple[int, int]]:
    """Chunks of rows [start, stop) with (stop − start)·(num − start) ≤
    ``REGION_BUDGET`` and at most ``TRIPLET_BUDGET`` triplets (one row at
    least)."""
    start = 0
    while start < num:
        stop = int(
            torch.searchsorted(
                row_triplets, row_triplets[start] + TRIPLET_BUDGET,
                right=True)) - 1
        stop = min(
            max(stop, start + 1), start + max(1, REGION_BUDGET //
                                              (num - start)), num)
        yield start, stop
        start = stop


def _column_order(encoding: SparseRows) -> Tensor:
    """Entries of V by column, rows ascending inside: a stable sort of the
    columns (scipy's O(nnz) CSR → CSC on the CPU, 3× faster than
    ``torch.sort`` there)."""
    crow, cols, _ = encoding
    if cols.is_cuda:
        return torch.sort(cols, stable=True).indices
    num = crow.numel() - 1
    entries = sp.csr_matrix(
        (np.arange(cols.numel()), cols.numpy(), crow.numpy()),
        shape=(num, num))
    return torch.from_numpy(entries.tocsc().data)


def _positions_above(values: Tensor, bound: float) -> Tensor:
    """Sorted positions of ``values > bound`` (numpy's scan on CPU, several
    times faster than ``torch.nonzero``), int64."""
    if values.is_cuda:
        return (values > bound).nonzero()[:, 0]
    return torch.from_numpy(np.flatnonzero(values.numpy() > bound))


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
