"""k-reciprocal re-ranking of query x gallery distances (Zhong et al. 2017).

Z. Zhong, L. Zheng, D. Cao, S. Li, "Re-ranking Person Re-identification
with k-reciprocal Encoding", CVPR 2017, with the semantics of the
community ``re_ranking(q_g_dist, q_q_dist, g_g_dist, k1, k2, lambda_value)``
(the authors' code, as in reid-strong-baseline and torchreid). The
community code builds dense N x N matrices with per-row Python loops; here
the k-reciprocal sets and the encoding V are the sparse, vectorised pieces
of :mod:`mmvireid.clustering` (docs/en/recipes.md §5.1), which compute the
same sets on a kNN list, and the Jaccard distance is summed over the shared
columns of V of the query x gallery pairs only.
"""
import numpy as np
import torch
from torch import Tensor

from mmvireid.clustering import (k_reciprocal_encoding, k_reciprocal_sets,
                                 query_expansion)
from mmvireid.clustering.utils import SparseRows

#: Rows per chunk of the stable kNN search; bounds its (rows, N) temporaries.
_KNN_CHUNK_ROWS = 2048
#: (query entry, gallery entry) terms of the Jaccard sums handled at once.
_TERM_BUDGET = 1 << 22


def _as_matrix(name: str, value, shape) -> Tensor:
    matrix = torch.as_tensor(value)
    if tuple(matrix.shape) != shape:
        raise ValueError(f're_ranking: {name} must have shape {shape}, got '
                         f'{tuple(matrix.shape)}')
    if not matrix.is_floating_point():
        raise TypeError(f're_ranking: {name} must be floating point, got '
                        f'{matrix.dtype}')
    matrix = matrix.detach().float()
    if not bool(torch.isfinite(matrix).all()):
        raise ValueError(f're_ranking: {name} contains NaN or infinite '
                         'values')
    return matrix


def _stable_knn(dist: Tensor, k: int) -> Tensor:
    """Columns of the k smallest entries of each row, ascending, ties by
    column index: ``argsort(dist, kind='stable')[:, :k]``.

    ``torch.topk`` finds them fast but orders ties arbitrarily: its result is
    re-sorted by (distance, column), and the rows where ties cross the k-th
    value (more than k entries ≤ it) are fully sorted with a stable sort.
    """
    ranks = []
    for start in range(0, dist.size(0), _KNN_CHUNK_ROWS):
        rows = dist[start:start + _KNN_CHUNK_ROWS]
        values, cols = rows.topk(k, dim=1, largest=False, sorted=True)
        cols, by_col = cols.sort(dim=1)
        values = values.gather(1, by_col)
        cols = cols.gather(1, values.sort(dim=1, stable=True).indices)
        ambiguous = ((rows <= values.amax(1, keepdim=True)).sum(1)
                     > k).nonzero()[:, 0]
        if ambiguous.numel():
            cols[ambiguous] = rows[ambiguous].sort(
                dim=1, stable=True).indices[:, :k]
        ranks.append(cols)
    return torch.cat(ranks)


def re_ranking(q_g_dist,
               q_q_dist,
               g_g_dist,
               k1: int = 20,
               k2: int = 6,
               lambda_value: float = 0.3) -> np.ndarray:
    """Re-rank query x gallery distances with k-reciprocal encoding.

    With the N = Q + G images of queries and gallery together and ``d`` the
    joint distance matrix ``[[q_q, q_g], [q_gᵀ, g_g]]``:

    1. ``D[i, j] = d[j, i]² / max_m d[m, i]²`` (squared distances, each
       column divided by its maximum, transposed: the community's
       normalisation; for symmetric ``q_q`` / ``g_g``, each row divided by
       its maximum).
    2. ``rank[i]``: the columns of row i of D in ascending order (ties by
       index). R(i, k) = {j in rank[i, :k+1] : i in rank[j, :k+1]}.
    3. R*(i) = R(i, k1) ∪ R(c, round(k1/2)) for each c in R(i, k1) with
       |R(c, round(k1/2)) ∩ R(i, k1)| > 2/3·|R(c, round(k1/2))|
       (``round`` half to even).
    4. V[i, j] = exp(−D[i, j]) / Σ_{j' in R*(i)} exp(−D[i, j']) on R*(i),
       0 elsewhere; then, unless k2 = 1, V[i] ← mean of V[j] over
       j in rank[i, :k2].
    5. Jaccard distance ``J[i, j] = 1 − m/(2 − m)``,
       m = Σ_c min(V[i, c], V[j, c]).
    6. Result: ``(1 − lambda_value)·J + lambda_value·D``, query rows,
       gallery columns.

    Steps 2-4 are the sparse pieces of :mod:`mmvireid.clustering` (kNN
    lists of ``max(k1 + 1, k2)`` columns, V as sparse rows); step 5 sums
    over the columns of V shared by a query and a gallery image only. The
    dense inputs themselves take O(N²) memory, as does D.

    VI-ReID caveat: queries and gallery are of different modalities, so
    ``q_q_dist`` and ``g_g_dist`` compare images of *one* modality, usually
    much closer than any cross-modality pair. The k-reciprocal neighbours of
    a query are then mostly other queries (those of a gallery image other
    gallery images), and the Jaccard term rests on the few cross-modality
    neighbours that remain, which makes the result sensitive to k1, k2 and
    lambda_value. Tune them on a validation split, not on the test set, and
    report re-ranked scores as such (published VI-ReID results are usually
    without re-ranking).

    Args:
        q_g_dist (array-like): Query x gallery distances, shape (Q, G).
        q_q_dist (array-like): Query x query distances, shape (Q, Q).
        g_g_dist (array-like): Gallery x gallery distances, shape (G, G).
            Arrays or tensors (then computed on their device); float32.
        k1 (int): Size of the k-reciprocal neighbourhood. Defaults to 20.
        k2 (int): Query-expansion size (1 disables it). Defaults to 6.
        lambda_value (float): Weight of the original distance, in [0, 1].
            Defaults to 0.3.

    Returns:
        np.ndarray: Re-ranked distances, shape (Q, G), float32.

    Raises:
        ValueError: On a shape mistake, non-finite distances, k1 / k2 that
            are not positive ints or lambda_value outside [0, 1].

    Example:
        >>> q_g = 1 - q_feats @ g_feats.T  # L2-normalised features
        >>> q_q, g_g = 1 - q_feats @ q_feats.T, 1 - g_feats @ g_feats.T
        >>> distmat = re_ranking(q_g, q_q, g_g, k1=20, k2=6,
        ...                      lambda_value=0.3)
    """
    check_re_ranking_args(k1, k2, lambda_value)
    q_g = torch.as_tensor(q_g_dist)
    if q_g.dim() != 2 or 0 in q_g.shape:
        raise ValueError('re_ranking: q_g_dist must be a non-empty (Q, G) '
                         f'matrix, got shape {tuple(q_g.shape)}')
    num_q, num_g = q_g.shape
    q_g = _as_matrix('q_g_dist', q_g, (num_q, num_g))
    q_q = _as_matrix('q_q_dist', q_q_dist, (num_q, num_q)).to(q_g.device)
    g_g = _as_matrix('g_g_dist', g_g_dist, (num_g, num_g)).to(q_g.device)
    num = num_q + num_g

    dist = torch.cat([torch.cat([q_q, q_g], 1),
                      torch.cat([q_g.T, g_g], 1)]).square_()
    # All-zero columns (identical images) stay zero instead of NaN.
    dist = (dist / dist.amax(0).clamp_(min=torch.finfo(dist.dtype).tiny)).T
    dist = dist.contiguous()

    rank = _stable_knn(dist, min(max(k1 + 1, k2), num))
    rank_k1 = rank[:, :min(k1 + 1, num)]
    half = min(round(k1 / 2) + 1, num)
    # k_reciprocal_sets(rank, k) reads R(i, k) from the first k + 1 columns
    # when they are all given (its rank has min(k, N) columns); R(i, k1)
    # and R(i, round(k1/2)) are read each from the columns it needs.
    mask_k1 = k_reciprocal_sets(rank_k1, rank_k1.size(1))[0]
    mask_half = k_reciprocal_sets(rank[:, :half], half)[0]
    # The encoding of the clustering weighs R*(i) by feature products;
    # re-ranking weighs it by D, so only its sets (the support of V) are
    # taken and the weights recomputed.
    support = k_reciprocal_encoding(
        dist.new_zeros(num, 1), rank_k1, dist.new_zeros(rank_k1.shape),
        mask_k1, mask_half)
    rows = support.row_indices()
    weights = torch.exp(-dist.flatten()[rows * num + support.cols])
    weights /= weights.new_zeros(num).index_add_(0, rows, weights)[rows]
    encoding = SparseRows(support.crow, support.cols, weights)
    encoding = query_expansion(encoding, rank[:, :min(k2, num)], k2)

    jaccard = _query_gallery_jaccard(encoding, num_q)
    return (jaccard * (1 - lambda_value) +
            dist[:num_q, num_q:] * lambda_value).cpu().numpy()


def _query_gallery_jaccard(encoding: SparseRows, num_q: int) -> Tensor:
    """``1 − m/(2 − m)``, m = Σ_c min(V[i, c], V[j, c]), for the queries i
    (rows < num_q) and the gallery images j (the other rows), (Q, G).

    :func:`~mmvireid.clustering.sparse_jaccard` gives every pair that shares
    a column, queries with queries included: at SYSU-MM01's size (3,803
    queries, ~380 gallery images) about 7x more terms than the query x
    gallery block needs. Here each stored V[i, c] of a query meets the
    gallery entries of column c (grouped by column), and the terms are
    summed into the dense (Q, G) result.
    """
    crow, cols, values = encoding
    num_g = encoding.num_rows - num_q
    device = cols.device
    rows = encoding.row_indices()
    split = int(crow[num_q])  # query entries first, then gallery entries
    by_col = torch.sort(cols[split:], stable=True).indices
    g_rows = rows[split:].index_select(0, by_col) - num_q
    g_values = values[split:].index_select(0, by_col)
    g_count = torch.bincount(cols[split:], minlength=encoding.num_rows)
    g_start = g_count.cumsum(0) - g_count
    q_cols, q_values, q_rows = cols[:split], values[:split], rows[:split]
    counts = g_count.index_select(0, q_cols)
    ends = counts.cumsum(0)
    common = torch.zeros(num_q * num_g, device=device)
    start = 0
    while start < split:
        stop = int(
            torch.searchsorted(ends, ends[start] - counts[start] +
                               _TERM_BUDGET, right=True))
        stop = min(max(stop, start + 1), split)
        entry_counts = counts[start:stop]
        total = int(ends[stop - 1] - ends[start] + counts[start])
        entry = torch.repeat_interleave(
            torch.arange(start, stop, device=device), entry_counts,
            output_size=total)
        first = torch.repeat_interleave(
            g_start.index_select(0, q_cols[start:stop]) -
            (entry_counts.cumsum(0) - entry_counts), entry_counts,
            output_size=total)
        slot = first + torch.arange(total, device=device)
        common.index_add_(
            0,
            q_rows.index_select(0, entry) * num_g +
            g_rows.index_select(0, slot),
            torch.minimum(
                q_values.index_select(0, entry),
                g_values.index_select(0, slot)))
        start = stop
    common = common.view(num_q, num_g)
    return 1 - common / (2 - common)


def check_re_ranking_args(k1: int, k2: int, lambda_value: float) -> None:
    """Raise a ValueError unless k1, k2 are positive ints and lambda_value
    is a number in [0, 1] (the arguments of :func:`re_ranking`)."""
    for name, value in (('k1', k1), ('k2', k2)):
        if isinstance(value, bool) or not isinstance(
                value, (int, np.integer)) or value < 1:
            raise ValueError(f're_ranking: {name} must be a positive int, '
                             f'got {value!r}')
    if isinstance(lambda_value, bool) or not isinstance(
            lambda_value, (int, float)) or not 0 <= lambda_value <= 1:
        raise ValueError('re_ranking: lambda_value must be a number in '
                         f'[0, 1], got {lambda_value!r}')
