"""Instance discrimination loss of SPCL-ID (docs/en/recipes.md §6)."""
import math
from typing import Optional

import torch
from torch import nn

from mmvireid.registry import MODELS
from ..utils.precision import float32_forward


@MODELS.register_module()
class InstanceDiscriminationLoss(nn.Module):
    """Each image against the instance memory, its own slot the positive.

    ``L_ins = −log softmax(q·Iᵀ/τ_i)[i]`` for a query ``q`` of image ``i``,
    averaged over the batch. Options:

    - ``num_soft_positives=k``: the ``k`` slots most similar to ``q`` (other
      than ``i``; similarity ``q·I``, no gradient through the choice) are
      extra positives: ``L = −log Σ_{pos} softmax(q·Iᵀ/τ_i)``.
    - ``num_negatives=K``: instead of all ``N`` slots, the denominator holds
      the positives and ``K`` negatives shared by the batch, drawn uniformly
      without replacement from the slots that are no query's positive (so
      never a query's own slot), with ``generator`` or the global RNG
      (:meth:`sample_negatives`). This keeps the loss ``O(B·K·D)`` at scale;
      with soft positives the choice of the nearest slots still costs one
      ``(B, N)`` product.

    A memory loss: ``loss(queries, labels, memory)`` as every loss of
    :class:`MemoryContrastHead`, the labels being each query's own slot
    (``sample_idx``, in ``[0, N)``: the head checks them once per batch,
    not this loss) and ``memory`` the :class:`InstanceMemory`. A pure
    function of the queries, the memory bank and the indices; the bank gets
    no gradient. Computed in float32, also under ``torch.autocast``.

    Args:
        temperature (float): ``τ_i``. Defaults to 0.05.
        num_negatives (int, optional): ``K``; ``None`` uses every slot.
            Defaults to None.
        num_soft_positives (int): ``k``. Defaults to 0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss_cfg = dict(type='InstanceDiscriminationLoss',
        ...                 temperature=0.05, num_negatives=8192)
        >>> loss = MODELS.build(loss_cfg)(feats, sample_indices,
        ...                               instance_memory)
    """

    #: The memory it contrasts with: ``'cluster'`` or ``'instance'``.
    MEMORY = 'instance'
    #: Whether it needs the instance memory.
    NEEDS_INSTANCES = True

    def __init__(self,
                 temperature: float = 0.05,
                 num_negatives: Optional[int] = None,
                 num_soft_positives: int = 0,
                 loss_weight: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError('InstanceDiscriminationLoss: temperature must '
                             f'be > 0, got {temperature}')
        if num_negatives is not None and num_negatives < 1:
            raise ValueError('InstanceDiscriminationLoss: num_negatives must '
                             f'be None or >= 1, got {num_negatives}')
        if num_soft_positives < 0:
            raise ValueError('InstanceDiscriminationLoss: num_soft_positives '
                             f'must be >= 0, got {num_soft_positives}')
        self.temperature = temperature
        self.num_negatives = num_negatives
        self.num_soft_positives = num_soft_positives
        self.loss_weight = loss_weight

    def sample_negatives(
            self,
            num_slots: int,
            positives: torch.Tensor,
            generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Draw ``num_negatives`` distinct slots outside ``positives``,
        uniformly (every ``K``-subset of the other slots equally likely).

        When the negatives are at most half of the available slots (SYSU-MM01:
        8,192 of 34,167), slots are drawn uniformly with replacement, those
        of ``positives`` and the repeats dropped, and the first ``K``
        distinct ones kept: ``O(K log K)`` work, none over all ``N`` slots.
        Otherwise ``torch.multinomial`` draws from the ``N`` slot weights.
        The slots come back sorted (the loss does not depend on their order;
        the bank is then read in memory order).

        Args:
            num_slots (int): ``N``, slots in the memory.
            positives (Tensor): Slots to leave out, any shape, long.
            generator (torch.Generator, optional): On the device of
                ``positives``; the global RNG when None.

        Returns:
            Tensor: Long slots, shape ``(K,)``, sorted.
        """
        num = self.num_negatives
        device = positives.device
        excluded = torch.unique(positives.flatten())
        available = num_slots - excluded.numel()
        if available < num:
            raise ValueError(
                f'InstanceDiscriminationLoss: num_negatives={num} but only '
                f'{available} of {num_slots} memory slots are no query\'s '
                'positive')
        if 2 * num > available:
            weights = torch.ones(num_slots, device=device)
            weights[excluded] = 0
            return torch.multinomial(
                weights, num, replacement=False,
                generator=generator).sort().values
        drawn = torch.zeros(0, dtype=torch.long, device=device)
        while True:
            # draws expected to give K distinct available slots, and a margin
            expected = -available * math.log1p(-num / available)
            size = int(1.1 * expected) + 64
            draws = torch.randint(num_slots, (size, ),
                                  generator=generator,
                                  device=device)
            drawn = torch.cat([drawn, draws[~torch.isin(draws, excluded)]])
            distinct, inverse = torch.unique(drawn, return_inverse=True)
            if distinct.numel() >= num:
                break
        # the first K distinct slots in the order of the draws
        first = torch.full_like(distinct, drawn.numel())
        first.scatter_reduce_(0, inverse,
                              torch.arange(drawn.numel(), device=device),
                              reduce='amin')
        return distinct[torch.argsort(first)[:num]].sort().values

    @float32_forward
    def forward(self,
                queries: torch.Tensor,
                indices: torch.Tensor,
                memory,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Compute ``L_ins``.

        Args:
            queries (Tensor): L2-normalised queries ``q``, shape ``(B, D)``.
            indices (Tensor): Own slot of each query in ``[0, N)``, ``(B,)``.
            memory (InstanceMemory): The instance memory ``I``, ``(N, D)``
                features.
            generator (torch.Generator, optional): RNG of the negative
                sampling. Defaults to the global RNG.

        Returns:
            Tensor: Scalar loss.
        """
        bank = memory.features
        num_slots = bank.shape[0]
        if (queries.dim() != 2 or bank.dim() != 2
                or bank.shape[1] != queries.shape[1]
                or indices.shape != queries.shape[:1]):
            raise ValueError(
                'InstanceDiscriminationLoss: expected queries (B, D), a '
                'memory of (N, D) features, indices (B,); got '
                f'{tuple(queries.shape)}, {tuple(bank.shape)}, '
                f'{tuple(indices.shape)}')
        if self.num_soft_positives > num_slots - 1:
            raise ValueError(
                'InstanceDiscriminationLoss: num_soft_positives='
                f'{self.num_soft_positives} needs more than {num_slots} '
                'memory slots')
        bank = bank.detach()
        positives = indices.unsqueeze(1)
        logits = None
        if self.num_soft_positives or self.num_negatives is None:
            logits = queries.matmul(bank.t()) / self.temperature
        if self.num_soft_positives:
            others = logits.detach().scatter(1, positives, float('-inf'))
            nearest = others.topk(self.num_soft_positives, dim=1).indices
            positives = torch.cat([positives, nearest], dim=1)

        if self.num_negatives is None:
            positive_mask = torch.zeros_like(logits, dtype=torch.bool)
            positive_mask.scatter_(1, positives, True)
            positive_logits = logits.masked_fill(~positive_mask, float('-inf'))
        else:
            negatives = self.sample_negatives(num_slots, positives, generator)
            positive_logits = torch.einsum('bd,bkd->bk', queries,
                                           bank[positives]) / self.temperature
            negative_logits = queries.matmul(
                bank[negatives].t()) / self.temperature
            logits = torch.cat([positive_logits, negative_logits], dim=1)
        loss = torch.logsumexp(logits, dim=1) - torch.logsumexp(
            positive_logits, dim=1)
        return self.loss_weight * loss.mean()
