"""Soft prototype contrastive loss of SPCL-ID (docs/en/recipes.md §6)."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.registry import MODELS
from ..utils.precision import float32_forward


@MODELS.register_module()
class SoftPrototypeContrastLoss(nn.Module):
    r"""Contrast of each query with its centroid and its soft prototypes.

    For a query ``q`` of cluster ``y`` with centroid ``c_y`` (its cluster
    memory entry) and soft prototypes ``p_{y,1..n}`` (the members of ``y``
    nearest to ``c_y`` in the instance memory,
    :meth:`ClusterBank.soft_prototypes`; with ``exclude_self`` never the
    query's own instance slot, whose place the next member takes)::

        P   = α·e^{q·c_y/τ} + (1 − α)·Σ_j w_{y,j}·e^{q·p_{y,j}/τ}
        L_sp = −log [ P / (P + Σ_{c≠y} e^{q·c_c/τ}) ]

    with soft weights ``w_{y,j} = softmax_j(cos(p_{y,j}, c_y)/τ_w)``
    (``1/n`` each when ``soft_weighting=False``), taken over the prototypes
    that exist only (the cosine is the dot product of the unit rows). The
    weights are constants (no gradient). Computed in float32 (also under
    ``torch.autocast``) and in log space with ``logsumexp``; ``α = 1`` is
    exactly cluster contrast. Queries labelled ``-1`` are skipped; the loss
    is the mean over the rest. The memories (centroids, prototypes) get no
    gradient.

    Without ``exclude_self`` a query of a cluster of at most ``n`` members
    is one of its own soft prototypes, and at ``τ = 0.05`` its term
    ``e^{q·q'/τ}`` (``q'`` its slot, close to ``q``) dominates: the loss
    becomes instance discrimination for the small clusters.

    A memory loss: ``loss(queries, labels, memory)`` with ``memory`` the
    :class:`ClusterBank` that ``labels`` index, as every loss of
    :class:`MemoryContrastHead`; the labels must be ``-1`` or in
    ``[0, C)`` (the head checks them once per batch). Cross-modal term: the
    same loss with the other modality's bank and the associated labels
    (:meth:`CrossModalMemory.associated_labels`, ``-1`` for unmatched
    clusters, whose queries are then skipped), weighted by ``λ_cm``.

    Args:
        num_soft_prototypes (int): ``n``. Defaults to 4.
        alpha (float): Weight ``α`` of the centroid, in ``[0, 1]``.
            Defaults to 0.5.
        temperature (float): ``τ``. Defaults to 0.05.
        weight_temperature (float): ``τ_w`` of the soft weights.
            Defaults to 0.1.
        soft_weighting (bool): Weight prototypes by their similarity to the
            centroid; False gives uniform weights. Defaults to True.
        exclude_self (bool): Never take a query's own instance slot as one
            of its soft prototypes (docs/en/recipes.md §6). Defaults to True.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss_cfg = dict(type='SoftPrototypeContrastLoss',
        ...                 num_soft_prototypes=4, alpha=0.5)
        >>> sp_loss = MODELS.build(loss_cfg)
        >>> loss = sp_loss(feats, rgb_labels, memory.cluster_bank(RGB))
    """

    #: The memory it contrasts with: ``'cluster'`` or ``'instance'``.
    MEMORY = 'cluster'
    #: Whether its bank needs the instance memory (the soft prototypes).
    NEEDS_INSTANCES = True

    def __init__(self,
                 num_soft_prototypes: int = 4,
                 alpha: float = 0.5,
                 temperature: float = 0.05,
                 weight_temperature: float = 0.1,
                 soft_weighting: bool = True,
                 exclude_self: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        if num_soft_prototypes < 1:
            raise ValueError('SoftPrototypeContrastLoss: num_soft_prototypes '
                             f'must be >= 1, got {num_soft_prototypes}')
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(
                f'SoftPrototypeContrastLoss: alpha must be in [0, 1], got '
                f'{alpha}')
        if temperature <= 0 or weight_temperature <= 0:
            raise ValueError('SoftPrototypeContrastLoss: temperature and '
                             'weight_temperature must be > 0, got '
                             f'{temperature} and {weight_temperature}')
        self.num_soft_prototypes = num_soft_prototypes
        self.alpha = alpha
        self.temperature = temperature
        self.weight_temperature = weight_temperature
        self.soft_weighting = soft_weighting
        self.exclude_self = exclude_self
        self.loss_weight = loss_weight

    def soft_weights(self,
                     centroids: torch.Tensor,
                     prototypes: torch.Tensor,
                     mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Soft weights ``w``.

        Args:
            centroids (Tensor): ``(R, D)`` unit rows, the centroid of each
                row of prototypes.
            prototypes (Tensor): ``(R, n, D)`` unit rows.
            mask (Tensor, optional): ``(R, n)``, True where a prototype
                exists. Defaults to all.

        Returns:
            Tensor: ``(R, n)``, each row summing to 1 over its existing
            prototypes (0 where ``mask`` is False).
        """
        return self._log_weights(centroids, prototypes, mask).exp()

    def _log_weights(self, centroids, prototypes, mask):
        if mask is None:
            mask = torch.ones(prototypes.shape[:2],
                              dtype=torch.bool,
                              device=prototypes.device)
        if self.soft_weighting:
            scores = torch.einsum('rnd,rd->rn', prototypes,
                                  centroids) / self.weight_temperature
        else:
            scores = prototypes.new_zeros(prototypes.shape[:2])
        # finite fill: a cluster without prototypes must not give NaN
        scores = scores.detach().masked_fill(~mask,
                                             torch.finfo(scores.dtype).min)
        log_weights = F.log_softmax(scores, dim=1)
        return log_weights.masked_fill(~mask, float('-inf'))

    @float32_forward
    def forward(self, queries: torch.Tensor, labels: torch.Tensor,
                memory) -> torch.Tensor:
        """Compute ``L_sp``.

        Args:
            queries (Tensor): L2-normalised queries ``q``, ``(B, D)``.
            labels (Tensor): Clusters ``y``, ``(B,)``, ``-1`` to skip.
            memory (ClusterBank): Centroids ``c`` ``(C, D)`` and, through
                :meth:`ClusterBank.soft_prototypes`, the soft prototypes
                (its ``slots``: the queries' own instance slots).

        Returns:
            Tensor: Scalar loss; 0 (attached to ``queries``) when no query
            has a label.
        """
        if (queries.dim() != 2 or labels.shape != queries.shape[:1]
                or memory.features.shape[1:] != queries.shape[1:]):
            raise ValueError(
                'SoftPrototypeContrastLoss: expected queries (B, D), labels '
                '(B,) and a bank of (C, D) centroids; got '
                f'{tuple(queries.shape)}, {tuple(labels.shape)}, '
                f'{tuple(memory.features.shape)}')
        if memory.num_clusters == 0:  # then every label is -1
            return queries.sum() * 0.0
        # the labelled queries only, at one host sync (their number)
        rows = torch.nonzero(labels >= 0).flatten()
        if rows.numel() == 0:
            return queries.sum() * 0.0
        queries, labels = queries[rows], labels[rows]
        centroids = memory.features.detach()
        prototypes, mask = memory.soft_prototypes(self.num_soft_prototypes,
                                                  rows, labels,
                                                  self.exclude_self)
        prototypes = prototypes.detach()
        if self.alpha == 0 and not bool(mask.any(1).all()):
            raise ValueError(
                'SoftPrototypeContrastLoss: with alpha=0 every query needs '
                'at least one soft prototype (a member of its cluster other '
                'than itself with exclude_self)')
        log_weights = self._log_weights(centroids[labels], prototypes, mask)
        centroid_logits = queries.matmul(centroids.t()) / self.temperature
        own = centroid_logits.gather(1, labels.unsqueeze(1))
        prototype_logits = torch.einsum('bd,bnd->bn', queries,
                                        prototypes) / self.temperature
        log_alpha = math.log(self.alpha) if self.alpha > 0 else float('-inf')
        log_rest = (math.log(1.0 -
                             self.alpha) if self.alpha < 1 else float('-inf'))
        positives = torch.cat(
            [log_alpha + own, log_rest + log_weights + prototype_logits],
            dim=1)
        negatives = centroid_logits.scatter(1, labels.unsqueeze(1),
                                            float('-inf'))
        log_numerator = torch.logsumexp(positives, dim=1)
        log_denominator = torch.logsumexp(torch.cat([positives, negatives],
                                                    dim=1),
                                          dim=1)
        loss = (log_denominator - log_numerator).mean()
        return self.loss_weight * loss
