"""Rank of each element among the earlier elements with the same key."""
import torch


def occurrence_rank(keys: torch.Tensor) -> torch.Tensor:
    """0-based count of the earlier elements that hold the same key.

    ``keys = [3, 1, 3, 3, 1]`` gives ``[0, 0, 1, 2, 1]``: element ``i`` is the
    ``rank[i]``-th occurrence of its key. Memories use it to apply the updates
    of one batch in batch order while processing every key in parallel (the
    k-th occurrence of all keys at once); the soft prototype selection uses it
    to keep the first ``n`` members of every cluster after sorting by
    similarity. Vectorised: one stable sort, no loop over elements.

    Args:
        keys (Tensor): Integer keys, shape ``(N,)``.

    Returns:
        Tensor: Long ranks, shape ``(N,)``, on the device of ``keys``.
    """
    if keys.dim() != 1:
        raise ValueError('occurrence_rank: keys must have shape (N,), got '
                         f'{tuple(keys.shape)}')
    order = torch.sort(keys, stable=True).indices
    _, counts = torch.unique_consecutive(keys[order], return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    positions = torch.arange(keys.numel(), device=keys.device)
    ranks = torch.empty_like(positions)
    ranks[order] = positions - starts.repeat_interleave(counts)
    return ranks
