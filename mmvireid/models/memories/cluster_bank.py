"""One modality's cluster memory as the losses of a training step read it."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..utils import occurrence_rank


def select_soft_prototypes(
        centroids: torch.Tensor, feats: torch.Tensor,
        pseudo_labels: torch.Tensor,
        num_prototypes: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pick, for every cluster, its members most similar to its centroid.

    Members are the rows of ``feats`` (the instance memory) with
    ``pseudo_labels == y``; they are ranked by cosine similarity to
    ``centroids[y]`` and the first ``num_prototypes`` kept (the soft
    prototypes of SPCL-ID, docs/en/methods.md §6). A cluster with fewer
    members gets them all and a ``False`` mask on the missing places (the
    loss drops those from its sums, nothing is repeated). Vectorised: a sort
    by similarity, then by label, no loop over clusters or samples.

    ``pseudo_labels`` must be ``-1`` or in ``[0, C)``; :meth:`CrossModalMemory.
    reset` checks the labels it keeps once per clustering, so this function,
    called every step, does not (a check would cost two host syncs).

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

    Example:
        >>> indices, mask = select_soft_prototypes(centroids, instances,
        ...                                        members, 4)
    """
    if pseudo_labels.shape != feats.shape[:1]:
        raise ValueError('select_soft_prototypes: pseudo_labels must have '
                         f'shape ({feats.shape[0]},), got '
                         f'{tuple(pseudo_labels.shape)}')
    indices = torch.full((centroids.shape[0], num_prototypes),
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


class ClusterBank:
    """One modality's cluster memory as the losses of one step read it.

    :meth:`CrossModalMemory.cluster_bank` builds one per modality at the
    start of a step; every loss of the step that contrasts with that
    modality's clusters (the within-modality term of its queries, the
    cross-modality term of the other modality's) reads the same bank, so
    the soft prototypes of each ``n`` are selected once per step. The
    tensors are the memories' buffers at the start of the step: the
    update after the step replaces the buffers and leaves them untouched.

    Args:
        features (Tensor): Cluster prototypes (centroids) ``c``, ``(C, D)``.
        temperature (float): ``τ`` of the cluster memory (:meth:`logits`).
        instances (Tensor, optional): The instance memory, ``(N, D)``;
            needed by :meth:`soft_prototypes`.
        members (Tensor, optional): Cluster of each instance in this bank's
            label space, ``-1`` for outliers and for the other modality's
            images, ``(N,)``.

    Example:
        >>> bank = memory.cluster_bank(IR)
        >>> logits = bank.logits(queries)          # (B, C) = q·cᵀ/τ
        >>> prototypes, mask = bank.soft_prototypes(4)  # (C, 4, D), (C, 4)
    """

    def __init__(self,
                 features: torch.Tensor,
                 temperature: float,
                 instances: Optional[torch.Tensor] = None,
                 members: Optional[torch.Tensor] = None):
        if (instances is None) != (members is None):
            raise ValueError('ClusterBank: give both instances and members '
                             'or neither')
        self.features = features
        self.temperature = temperature
        self.instances = instances
        self.members = members
        self._soft_prototypes: Dict[int, Tuple[torch.Tensor,
                                               torch.Tensor]] = {}

    @property
    def num_clusters(self) -> int:
        """int: ``C``, the clusters of the bank (0 when none formed)."""
        return self.features.shape[0]

    def logits(self, queries: torch.Tensor) -> torch.Tensor:
        """``q·cᵀ/τ``, shape ``(B, C)``, differentiable in ``queries``."""
        return queries.matmul(self.features.t()) / self.temperature

    def soft_prototypes(self,
                        num: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """The ``num`` members of every cluster nearest its centroid.

        Args:
            num (int): ``n``, soft prototypes per cluster.

        Returns:
            tuple[Tensor, Tensor]: ``prototypes`` ``(C, n, D)`` (zeros where
            missing) and ``mask`` ``(C, n)``, see
            :func:`select_soft_prototypes`.
        """
        if self.instances is None:
            raise ValueError(
                'ClusterBank: soft prototypes are members of the instance '
                'memory, and this bank has none (the head builds it when a '
                'loss needs instances)')
        if num not in self._soft_prototypes:
            indices, mask = select_soft_prototypes(self.features,
                                                   self.instances,
                                                   self.members, num)
            prototypes = self.instances[indices.clamp(min=0)] * \
                mask.unsqueeze(-1)
            self._soft_prototypes[num] = (prototypes, mask)
        return self._soft_prototypes[num]
