"""Concatenate every rank's batch, in rank order, on every rank."""
from typing import List

import torch
from mmengine import dist


def all_gather_batch(*tensors: torch.Tensor) -> List[torch.Tensor]:
    """Concatenate every rank's batch, in rank order, on every rank.

    MMEngine wraps models with ``broadcast_buffers=False``, so each rank must
    apply the same memory update itself, from the batches of all ranks; the
    feature extraction gathers the ranks' features the same way.
    ``mmengine.dist.all_gather`` needs equal shapes on all ranks: the batch
    sizes are gathered first and shorter batches padded, then trimmed. On one
    process the tensors come back unchanged.

    Args:
        *tensors (Tensor): Tensors of this rank, all of the same length
            ``B`` along dim 0.

    Returns:
        list[Tensor]: The gathered tensors, each of length ``ΣB`` along dim 0.

    Example:
        >>> feats, labels = all_gather_batch(feats, labels)  # (ΣB, D), (ΣB,)
    """
    if dist.get_world_size() == 1:
        return list(tensors)
    size = torch.tensor([tensors[0].shape[0]], device=tensors[0].device)
    sizes = [int(s) for s in torch.cat(dist.all_gather(size)).tolist()]
    max_size = max(sizes)
    gathered = []
    for tensor in tensors:
        padded = tensor.new_zeros((max_size, ) + tuple(tensor.shape[1:]))
        padded[:tensor.shape[0]] = tensor
        parts = dist.all_gather(padded)
        gathered.append(torch.cat([part[:n] for part, n in zip(parts, sizes)]))
    return gathered
