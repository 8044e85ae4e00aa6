"""Hierarchical knowledge synergy (HKS) loss of MCLNet."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.registry import MODELS


@MODELS.register_module()
class HierarchicalKnowledgeSynergyLoss(nn.Module):
    r"""Pairwise KL matching between the features of several stages.

    MCLNet's hierarchical knowledge synergy: each of the :math:`S` stage
    features learns from every other one. With
    :math:`p_s = \mathrm{softmax}(f_s / T)` over channels,

    .. math::
        \mathcal{L} = \sum_{i \neq j}
            \mathrm{KL}\big(\mathrm{sg}(p_j) \,\|\, p_i\big),

    summed over the :math:`S(S-1)` ordered pairs (not averaged: MCLNet
    weights every pair term by the same factor, so ``loss_weight`` multiplies
    the sum), each KL summed over channels and averaged over the batch (as
    ``F.kl_div(..., reduction='batchmean')``). :math:`\mathrm{sg}` is the
    stop-gradient: in term :math:`(i, j)` only :math:`f_i` receives a
    gradient, :math:`p_j` is a fixed target. No :math:`T^2` factor is applied
    (MCLNet uses :math:`T = 1`, where it makes no difference).

    Args:
        temperature (float): Softmax temperature :math:`T`, > 0.
            Defaults to 1.0.
        loss_weight (float): Weight of the summed loss. Defaults to 1.0.

    Example:
        >>> loss = dict(type='HierarchicalKnowledgeSynergyLoss',
        ...             temperature=1.0, loss_weight=5.0)
    """

    def __init__(self,
                 temperature: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError('HierarchicalKnowledgeSynergyLoss: temperature '
                             f'must be > 0, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Compute the loss.

        Args:
            feats (Sequence[torch.Tensor]): The :math:`S \\ge 2` stage
                features, each of shape (N, C) with the same N and C.

        Returns:
            torch.Tensor: The weighted loss, a scalar.
        """
        if len(feats) < 2:
            raise ValueError('HierarchicalKnowledgeSynergyLoss: feats must '
                             'hold at least 2 stage features, got '
                             f'{len(feats)}')
        shapes = {tuple(f.shape) for f in feats}
        if len(shapes) != 1 or len(feats[0].shape) != 2:
            raise ValueError('HierarchicalKnowledgeSynergyLoss: feats must '
                             'all have the same shape (N, C), got '
                             f'{[tuple(f.shape) for f in feats]}')
        logits = torch.stack(list(feats)) / self.temperature  # (S, N, C)
        log_p = F.log_softmax(logits, dim=2)
        log_q = log_p.detach()  # the targets sg(p_j)
        # kl[i, j, n] = KL(sg(p_j[n]) || p_i[n]), summed over channels.
        kl = (log_q.exp()[None] * (log_q[None] - log_p[:, None])).sum(dim=3)
        num_stages = len(feats)
        off_diag = ~torch.eye(num_stages, dtype=torch.bool, device=kl.device)
        loss = kl[off_diag].sum() / logits.size(1)
        return self.loss_weight * loss
