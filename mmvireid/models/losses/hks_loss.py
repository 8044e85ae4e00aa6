"""Hierarchical knowledge synergy (HKS) loss of MCLNet."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.registry import MODELS
from ..utils.precision import float32_forward


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

    As the released ``KL_divergence`` (MCLNet ``loss.py`` L335–346), both
    distributions are smoothed before the KL,
    :math:`\tilde p = (p + \epsilon) / (1 + C \epsilon)` with ``eps``
    :math:`\epsilon = 10^{-8}` and :math:`C` channels; ``eps=0`` gives the
    plain KL (a relative difference of about 5.6e-5 for 2048 channels). The
    loss is computed in float32 under ``torch.autocast``
    (:func:`float32_forward`).

    At :math:`T = 1` on raw pooled features, features flat over the
    channels minimise the loss trivially (every softmax uniform, every KL
    0), and flat features are all parallel, which leaves a contrastive loss
    on them at chance (``configs/mclnet/README.md``).

    Args:
        temperature (float): Softmax temperature :math:`T`, > 0.
            Defaults to 1.0.
        eps (float): Smoothing :math:`\epsilon` of both distributions,
            >= 0. Defaults to 1e-8 (the released code).
        loss_weight (float): Weight of the summed loss. Defaults to 1.0.

    Example:
        >>> loss = dict(type='HierarchicalKnowledgeSynergyLoss',
        ...             temperature=1.0, eps=1e-8, loss_weight=5.0)
    """

    def __init__(self,
                 temperature: float = 1.0,
                 eps: float = 1e-8,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError('HierarchicalKnowledgeSynergyLoss: temperature '
                             f'must be > 0, got {temperature}')
        if eps < 0:
            raise ValueError('HierarchicalKnowledgeSynergyLoss: eps must be '
                             f'>= 0, got {eps}')
        self.temperature = temperature
        self.eps = eps
        self.loss_weight = loss_weight

    @float32_forward
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
        logits = torch.stack(list(feats))  # (S, N, C)
        logits = logits / self.temperature
        if self.eps > 0:
            num_channels = logits.size(2)
            log_p = ((F.softmax(logits, dim=2) + self.eps) /
                     (1 + num_channels * self.eps)).log()
        else:
            log_p = F.log_softmax(logits, dim=2)
        log_q = log_p.detach()  # the targets sg(p_j)
        # kl[i, j, n] = KL(sg(p_j[n]) || p_i[n]), summed over channels.
        kl = (log_q.exp()[None] * (log_q[None] - log_p[:, None])).sum(dim=3)
        num_stages = len(feats)
        off_diag = ~torch.eye(num_stages, dtype=torch.bool, device=kl.device)
        loss = kl[off_diag].sum() / logits.size(1)
        return self.loss_weight * loss
