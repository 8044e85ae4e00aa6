"""k-reciprocal neighbour sets and their sparse encoding V
(docs/en/recipes.md §5.1).

Every function here is vectorised over rows (chunks of rows bound the
memory, never a Python loop over samples). The sets and the encoding run in
torch on the device of their inputs, the query expansion as a scipy sparse
product on the CPU. Sets are kept as boolean masks over the columns of the
kNN list ``rank`` (N, K); the encoding V is a :class:`SparseRows` of shape
(N, N).
"""
from typing import Tuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from .utils import (SparseRows, cpu_workers, map_threads, single_threaded,
                    take_rows)

#: Rows processed together; bounds the (rows, K, K) temporaries.
CHUNK_ROWS = 4096
#: Elements of a (rows, N) position map of :func:`k_reciprocal_encoding`.
MAP_BUDGET = 1 << 22


def half_width(k1: int) -> int:
    """Columns of ``rank`` that R(i, round(k1/2)) draws on: round(k1/2) + 1.

    ``round`` is Python's, half to even like the ``np.around`` of the
    community code (``round(2.5) == 2``).
    """
    return round(k1 / 2) + 1


@single_threaded
def k_reciprocal_sets(rank: Tensor, k1: int) -> Tuple[Tensor, Tensor]:
    """Masks of R(i, k1) and R(i, round(k1/2)) over the columns of ``rank``.

    R(i, k) = {j in rank[i, :k+1] : i in rank[j, :k+1]}. ``rank`` holds only
    K ≤ k1 columns, so R(i, k1) draws on all K of them (self included) while
    R(i, round(k1/2)) draws on min(round(k1/2) + 1, K): the neighbour-count
    subtlety of the community code, kept on purpose.

    Args:
        rank (Tensor): kNN lists of shape (N, K), K = min(k1, N), int64,
            self first (see :func:`~mmvireid.clustering.knn.exact_knn`).
        k1 (int): The k1 of the k-reciprocal encoding.

    Returns:
        tuple[Tensor, Tensor]: ``mask_k1`` of shape (N, K) and ``mask_half``
        of shape (N, min(round(k1/2) + 1, K)), bool; ``mask[i, p]`` tells
        whether ``rank[i, p]`` belongs to the set of ``i``.

    Example:
        >>> mask_k1, mask_half = k_reciprocal_sets(rank, k1=30)
    """
    if rank.dim() != 2 or rank.size(1) != min(k1, rank.size(0)):
        raise ValueError(
            'k_reciprocal_sets: rank must have shape (N, min(k1, N)) as '
            f'exact_knn(features, k1) returns, got {tuple(rank.shape)} for '
            f'k1={k1}')
    width_k1 = min(k1 + 1, rank.size(1))
    width_half = min(half_width(k1), rank.size(1))
    return (_reciprocal_mask(rank,
                             width_k1), _reciprocal_mask(rank, width_half))


def _reciprocal_mask(rank: Tensor, width: int) -> Tensor:
    forward = rank[:, :width]
    masks = []
    for start in range(0, rank.size(0), CHUNK_ROWS):
        rows = forward[start:start + CHUNK_ROWS]
        backward = take_rows(forward, rows)  # (rows, width, width)
        self_index = torch.arange(
            start, start + rows.size(0), device=rank.device)
        masks.append((backward == self_index[:, None, None]).any(2))
    return torch.cat(masks)


@single_threaded
def k_reciprocal_encoding(features: Tensor, rank: Tensor, similarities: Tensor,
                          mask_k1: Tensor, mask_half: Tensor) -> SparseRows:
    """Sparse encoding V of the expanded k-reciprocal sets R*(i).

    R*(i) = R(i, k1) ∪ R(c, round(k1/2)) for every c in R(i, k1) with
    |R(c, round(k1/2)) ∩ R(i, k1)| > 2/3·|R(c, round(k1/2))| (compared in
    float64 as the community's Python does), and
    V[i, j] = softmax over j in R*(i) of −(2 − 2·f_i·f_j), 0 elsewhere.

    Membership tests go through a map "column → position in rank[i] + 1"
    of a chunk of rows (a (rows, N) int16 array written and cleared at the
    K entries of each row), so they are gathers, not searches. Inner
    products come from ``similarities`` when j is in the kNN list of i and
    are computed from ``features`` for the few other members of R*(i).

    Args:
        features (Tensor): Features of shape (N, D), float32.
        rank (Tensor): kNN lists of shape (N, K), int64, self first.
        similarities (Tensor): ``f_i·f_rank[i, p]`` of shape (N, K), float32.
        mask_k1 (Tensor): Mask of R(i, k1) over ``rank``, shape (N, K).
        mask_half (Tensor): Mask of R(i, round(k1/2)) over
            ``rank[:, :W]``, shape (N, W).

    Returns:
        SparseRows: V, float32, shape (N, N); every row sums to 1.

    Example:
        >>> v = k_reciprocal_encoding(feats, rank, sims, mask_k1, mask_half)
    """
    num, k = rank.shape
    device = rank.device
    chunk = max(1, min(CHUNK_ROWS, MAP_BUDGET // num))
    workers = 1 if device.type == 'cuda' else cpu_workers()
    map_dtype = torch.int16 if k < 2**15 else torch.int32
    position_maps = [
        torch.zeros(chunk * num, dtype=map_dtype, device=device)
        for _ in range(workers)
    ]
    positions = torch.arange(
        1, k + 1, dtype=map_dtype, device=device).expand(chunk, k)

    def chunk_encoding(start):
        rank_rows = rank[start:start + chunk]
        size = rank_rows.size(0)
        row_base = torch.arange(size, device=device)[:, None] * num
        flat_rank = (row_base + rank_rows).flatten()
        position_map = position_maps.pop()
        position_map.index_put_((flat_rank, ), positions[:size].flatten())
        members, extra = _expanded_sets(rank_rows, mask_k1[start:start + size],
                                        rank, mask_half, position_map,
                                        row_base)
        position_map.index_fill_(0, flat_rank, 0)
        position_maps.append(position_map)
        # Members inside the kNN list (flat over (B, K)), then the few
        # (chunk row, column) pairs outside it; keys b·N + j.
        inside = members.flatten().nonzero()[:, 0]
        keys = torch.cat([(inside // k) * num +
                          rank_rows.flatten().index_select(0, inside), extra])
        sims = torch.cat([
            similarities[start:start + size].flatten().index_select(
                0, inside),
            _row_dots(features, extra // num + start, extra % num)
        ])
        keys, order = keys.sort()
        logits = (2 * sims.index_select(0, order)).sub_(2)
        rows = keys // num
        # Softmax over each row's members (segments of `rows`).
        row_max = torch.full(
            (size, ), float('-inf'),
            device=device).scatter_reduce_(0, rows, logits, 'amax')
        weights = logits.sub_(row_max.index_select(0, rows)).exp_()
        weights /= torch.zeros(
            size, device=device).index_add_(0, rows,
                                            weights).index_select(0, rows)
        return torch.bincount(rows, minlength=size), keys % num, weights

    row_counts, cols, weights = zip(
        *map_threads(chunk_encoding, range(0, num, chunk), workers))
    return SparseRows.from_row_counts(
        torch.cat(row_counts), torch.cat(cols), torch.cat(weights))


def _row_dots(features: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``f_rows[t]·f_cols[t]`` for every t, 256 pairs at a time (the
    gathered (256, D) blocks stay small enough to be reused, not mapped
    afresh, by the allocator)."""
    return torch.cat([
        features.index_select(0, rows[t:t + 256]).mul_(
            features.index_select(0, cols[t:t + 256])).sum(1)
        for t in range(0, rows.numel(), 256)
    ] or [features.new_zeros(0)])


def _expanded_sets(rank_rows: Tensor, mask_k1_rows: Tensor, rank: Tensor,
                   mask_half: Tensor, position_map: Tensor,
                   row_base: Tensor) -> Tuple[Tensor, Tensor]:
    """R*(i) of a chunk of rows whose kNN positions are in ``position_map``.

    Returns ``members`` (B, K) bool, R*(i) ∩ rank[i] as a mask over rank[i],
    and the sorted distinct keys ``b·N + j`` of the members j of R*(i)
    outside rank[i] (b: row in the chunk).
    """
    num, k = rank.shape
    size = rank_rows.size(0)
    width = mask_half.size(1)
    # R(c, round(k1/2)) of every candidate c = rank[i, p] in R(i, k1).
    cand_sets = take_rows(rank[:, :width], rank_rows)  # (B, K, W)
    cand_masks = take_rows(mask_half, rank_rows)  # (B, K, W)
    pos = take_rows(position_map,
                    row_base[..., None] + cand_sets).long()  # 0: absent
    in_k1 = mask_k1_rows.gather(1, (pos - 1).clamp_(min=0).flatten(1))
    in_k1 = in_k1.view_as(pos) & (pos > 0) & cand_masks
    accepted = mask_k1_rows & (
        in_k1.sum(2).double() > 2 / 3 * cand_masks.sum(2).double())
    joining = accepted[..., None] & cand_masks
    # Joining sets inside rank[i]: set their slots of `members` (slot B·K,
    # one past the end, takes every write of the other entries).
    chunk_row = torch.arange(size, device=rank.device)[:, None, None]
    slots = torch.where(joining & (pos > 0), chunk_row * k + pos - 1, size * k)
    members = torch.cat([mask_k1_rows.flatten(), mask_k1_rows.new_zeros(1)])
    members.index_fill_(0, slots.flatten(), True)
    members = members[:-1].view(size, k)
    outside = (joining & (pos == 0)).flatten().nonzero()[:, 0]
    extra = torch.unique((outside // (k * width)) * num +
                         cand_sets.flatten().index_select(0, outside))
    return members, extra


def query_expansion(encoding: SparseRows, rank: Tensor, k2: int) -> SparseRows:
    """V[i] ← mean of V[j] over j in rank[i, :k2] (no-op for k2 = 1).

    ``rank`` holds K columns, so the mean runs over min(k2, K) rows, as
    slicing the community's kNN array does. Computed as the sparse product
    Q·V on the CPU (scipy), Q holding a 1 at (i, rank[i, p]) for p < k2,
    then divided by k2: the sum runs over the rows in ``rank`` order, as
    numpy's ``mean`` does in the community code (same float32 values).

    Args:
        encoding (SparseRows): V, shape (N, N).
        rank (Tensor): kNN lists of shape (N, K), int64, self first.
        k2 (int): Query-expansion size.

    Returns:
        SparseRows: The expanded V, shape (N, N), on the device of
        ``encoding``; rows still sum to 1.

    Example:
        >>> v = query_expansion(v, rank, k2=6)
    """
    width = min(k2, rank.size(1))
    if width == 1:
        return encoding
    num = rank.size(0)
    v = sp.csr_matrix(tuple(part.cpu().numpy() for part in encoding[::-1]),
                      shape=(num, num))
    neighbours = sp.csr_matrix(
        (np.ones(num * width, dtype=np.float32),
         rank[:, :width].cpu().numpy().ravel(),
         np.arange(0, num * width + 1, width)),
        shape=(num, num))
    expanded = neighbours @ v
    expanded.sort_indices()
    expanded.data /= width
    device = encoding.cols.device
    return SparseRows(*(torch.from_numpy(part).to(device, torch.long)
                        for part in (expanded.indptr, expanded.indices)),
                      torch.from_numpy(expanded.data).to(device))
