"""Soft prototype contrastive loss of SPCL-ID (methods.md section 6)."""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.registry import MODELS
from ..utils import occurrence_rank


def select_soft_prototypes(
        centroids: torch.Tensor, feats: torch.Tensor,
        pseudo_labels: torch.Tensor,
        num_prototypes: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pick, for every cluster, its members most similar to its centroid.

    Members are the rows of ``feats`` (the instance memory) with
    ``pseudo_labels == y``; they are ranked by cosine similarity to
    ``centroids[y]`` and the first ``num_prototypes`` kept. A cluster with
    fewer members gets them all and a ``False`` mask on the missing places
    (the loss drops those from its sums, nothing is repeated). Vectorised: a
    sort by similarity, then by label, no loop over clusters or samples.

    Args:
        centroids (Tensor): Cluster prototypes ``c``, shape ``(C, D)``.
        feats (Tensor): Instance features, shape ``(N, D)``.
        pseudo_labels (Tensor): Cluster of each instance in ``[0, C)``, or
            ``-1`` (outlier, or an image of another modality when ``feats``
            is the whole instance memory), shape ``(N,)``.
        num_prototypes (int): ``n``, soft prototypes per cluster.

    Returns:
        tuple[Tensor, Tensor]: ``indices`` ``(C, n)`` long rows of ``feats``
        in decreasing similarity (``-1`` where missing) and ``mask``
        ``(C, n)`` bool, True where a prototype exists.
    """
    num_clusters = centroids.shape[0]
    if pseudo_labels.shape != feats.shape[:1]:
        raise ValueError('select_soft_prototypes: pseudo_labels must have '
                         f'shape ({feats.shape[0]},), got '
                         f'{tuple(pseudo_labels.shape)}')
    if pseudo_labels.numel() and (int(pseudo_labels.min()) < -1
                                  or int(pseudo_labels.max()) >= num_clusters):
        raise ValueError(
            'select_soft_prototypes: pseudo_labels must be -1 or in '
            f'[0, {num_clusters}), got values in '
            f'[{int(pseudo_labels.min())}, {int(pseudo_labels.max())}]')
    indices = torch.full((num_clusters, num_prototypes),
                         -1,
                         dtype=torch.long,
                         device=feats.device)
    members = torch.nonzero(pseudo_labels >= 0).flatten()
    labels = pseudo_labels[members]
    sims = F.cosine_similarity(feats[members], centroids[labels], dim=1)
    by_sim = torch.sort(sims, descending=True, stable=True).indices
    members, labels = members[by_sim], labels[by_sim]
    ranks = occurrence_rank(labels)
    kept = ranks < num_prototypes
    indices[labels[kept], ranks[kept]] = members[kept]
    return indices, indices >= 0


def associated_labels(labels: torch.Tensor,
                      mapping: torch.Tensor) -> torch.Tensor:
    """Translate pseudo-labels into the associated clusters of the other
    modality.

    Args:
        labels (Tensor): Pseudo-labels of one modality, ``(B,)``, ``-1`` for
            outliers.
        mapping (Tensor): Hungarian association of that modality's ``C``
            clusters, ``(C,)``: the matched cluster of the other modality, or
            ``-1`` when unmatched.

    Returns:
        Tensor: ``(B,)`` labels in the other modality's cluster space, ``-1``
        for outliers and for queries of unmatched clusters (skipped by the
        loss).
    """
    if labels.numel() and int(labels.max()) >= mapping.numel():
        raise ValueError(
            f'associated_labels: mapping has {mapping.numel()} clusters but '
            f'labels reach {int(labels.max())}')
    if not mapping.numel():  # no cluster in this modality: all outliers
        return torch.full_like(labels, -1)
    mapped = mapping.to(labels.device)[labels.clamp(min=0)]
    return torch.where(labels >= 0, mapped, torch.full_like(labels, -1))


@MODELS.register_module()
class SoftPrototypeContrastLoss(nn.Module):
    r"""Contrast of each query with its centroid and its soft prototypes.

    For a query ``q`` of cluster ``y`` with centroid ``c_y`` (its cluster
    memory entry) and soft prototypes ``p_{y,1..n}`` (its members nearest to
    ``c_y``, see :func:`select_soft_prototypes`)::

        P   = α·e^{q·c_y/τ} + (1 − α)·Σ_j w_{y,j}·e^{q·p_{y,j}/τ}
        L_sp = −log [ P / (P + Σ_{c≠y} e^{q·c_c/τ}) ]

    with soft weights ``w_{y,j} = softmax_j(cos(p_{y,j}, c_y)/τ_w)``
    (``1/n`` each when ``soft_weighting=False``), taken over the prototypes
    that exist only. The weights are constants (no gradient). Computed in
    log space with ``logsumexp``; ``α = 1`` is exactly cluster contrast.
    Queries labelled ``-1`` are skipped; the loss is the mean over the rest.
    The memories (centroids, prototypes) get no gradient.

    Cross-modal term: call the same loss with the other modality's centroids
    and soft prototypes and ``associated_labels(labels, mapping)`` as labels,
    ``mapping`` the Hungarian association (``-1`` for unmatched clusters,
    whose queries are then skipped); weight it with ``λ_cm``.

    Args:
        num_soft_prototypes (int): ``n``. Defaults to 4.
        alpha (float): Weight ``α`` of the centroid, in ``[0, 1]``.
            Defaults to 0.5.
        temperature (float): ``τ``. Defaults to 0.05.
        weight_temperature (float): ``τ_w`` of the soft weights.
            Defaults to 0.1.
        soft_weighting (bool): Weight prototypes by their similarity to the
            centroid; False gives uniform weights. Defaults to True.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss_cfg = dict(type='SoftPrototypeContrastLoss',
        ...                 num_soft_prototypes=4, alpha=0.5)
        >>> sp_loss = MODELS.build(loss_cfg)
        >>> prototypes, mask = sp_loss.select_prototypes(
        ...     rgb_memory.features, instance_memory.features, rgb_labels_all)
        >>> loss = sp_loss(feats, labels, rgb_memory.features, prototypes,
        ...                mask)
    """

    def __init__(self,
                 num_soft_prototypes: int = 4,
                 alpha: float = 0.5,
                 temperature: float = 0.05,
                 weight_temperature: float = 0.1,
                 soft_weighting: bool = True,
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
        self.loss_weight = loss_weight

    def select_prototypes(
            self, centroids: torch.Tensor, feats: torch.Tensor,
            pseudo_labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """:func:`select_soft_prototypes` with ``n = num_soft_prototypes``.

        Returns:
            tuple[Tensor, Tensor]: ``prototypes`` ``(C, n, D)`` (zeros where
            missing) and ``mask`` ``(C, n)``.
        """
        indices, mask = select_soft_prototypes(centroids, feats, pseudo_labels,
                                               self.num_soft_prototypes)
        prototypes = feats[indices.clamp(min=0)] * mask.unsqueeze(-1)
        return prototypes, mask

    def soft_weights(self,
                     centroids: torch.Tensor,
                     prototypes: torch.Tensor,
                     mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Soft weights ``w``, shape ``(C, n)``, each row summing to 1 over
        its existing prototypes (0 where ``mask`` is False)."""
        return self._log_weights(centroids, prototypes, mask).exp()

    def _log_weights(self, centroids, prototypes, mask):
        if mask is None:
            mask = torch.ones(prototypes.shape[:2],
                              dtype=torch.bool,
                              device=prototypes.device)
        if self.soft_weighting:
            scores = F.cosine_similarity(prototypes,
                                         centroids.unsqueeze(1),
                                         dim=-1) / self.weight_temperature
        else:
            scores = prototypes.new_zeros(prototypes.shape[:2])
        # finite fill: a cluster without prototypes must not give NaN
        scores = scores.detach().masked_fill(~mask,
                                             torch.finfo(scores.dtype).min)
        log_weights = F.log_softmax(scores, dim=1)
        return log_weights.masked_fill(~mask, float('-inf'))

    def forward(self,
                feats: torch.Tensor,
                labels: torch.Tensor,
                centroids: torch.Tensor,
                prototypes: torch.Tensor,
                prototype_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute ``L_sp``.

        Args:
            feats (Tensor): L2-normalised queries ``q``, ``(B, D)``.
            labels (Tensor): Clusters ``y``, ``(B,)``, ``-1`` to skip.
            centroids (Tensor): Centroid prototypes ``c``, ``(C, D)``.
            prototypes (Tensor): Soft prototypes ``p``, ``(C, n, D)``.
            prototype_mask (Tensor, optional): ``(C, n)`` bool, False for a
                missing prototype. Defaults to all True.

        Returns:
            Tensor: Scalar loss; 0 (attached to ``feats``) when no query has
            a label.
        """
        num_clusters = centroids.shape[0]
        if (feats.dim() != 2 or labels.shape != feats.shape[:1]
                or centroids.dim() != 2 or prototypes.dim() != 3
                or prototypes.shape[0] != num_clusters
                or centroids.shape[1] != feats.shape[1]
                or prototypes.shape[2] != feats.shape[1]):
            raise ValueError(
                'SoftPrototypeContrastLoss: expected feats (B, D), labels '
                '(B,), centroids (C, D), prototypes (C, n, D); got '
                f'{tuple(feats.shape)}, {tuple(labels.shape)}, '
                f'{tuple(centroids.shape)}, {tuple(prototypes.shape)}')
        if labels.numel() and (int(labels.min()) < -1
                               or int(labels.max()) >= num_clusters):
            raise ValueError(
                'SoftPrototypeContrastLoss: labels must be -1 (ignored) or in'
                f' [0, {num_clusters}), got values in [{int(labels.min())}, '
                f'{int(labels.max())}]')
        if (prototype_mask is not None
                and prototype_mask.shape != prototypes.shape[:2]):
            raise ValueError(
                'SoftPrototypeContrastLoss: prototype_mask must have shape '
                f'{tuple(prototypes.shape[:2])}, got '
                f'{tuple(prototype_mask.shape)}')
        valid = labels >= 0
        if not bool(valid.any()):
            return feats.sum() * 0.0
        feats, labels = feats[valid], labels[valid]
        centroids, prototypes = centroids.detach(), prototypes.detach()
        log_weights = self._log_weights(centroids, prototypes,
                                        prototype_mask)[labels]
        if self.alpha == 0 and bool(torch.isinf(log_weights).all(1).any()):
            raise ValueError(
                'SoftPrototypeContrastLoss: with alpha=0 every labelled '
                'cluster needs at least one soft prototype')

        centroid_logits = feats.matmul(centroids.t()) / self.temperature
        own = centroid_logits.gather(1, labels.unsqueeze(1))
        prototype_logits = torch.einsum('bd,bnd->bn', feats,
                                        prototypes[labels]) / self.temperature
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
        return self.loss_weight * (log_denominator - log_numerator).mean()
