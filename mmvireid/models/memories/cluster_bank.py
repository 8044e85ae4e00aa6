"""One modality's cluster memory as the losses of a training step read it."""
from typing import Callable, Dict, Optional, Tuple

import torch

from ..utils import occurrence_rank
from ..utils.precision import float32_forward

#: Members whose similarity to their centroid is computed at once by
#: :func:`select_soft_prototypes` (bounds its temporaries to a few MB).
CHUNK = 8192


def member_similarities(centroids: torch.Tensor, feats: torch.Tensor,
                        members: torch.Tensor,
                        labels: torch.Tensor) -> torch.Tensor:
    """``feats[members[i]] · centroids[labels[i]]`` for every ``i``.

    The rows are L2-normalised, so the dot product is their cosine
    similarity. Computed in chunks of :data:`CHUNK` rows: no ``(N, D)``
    gathered copy of the instance memory.

    Args:
        centroids (Tensor): ``(C, D)`` unit rows.
        feats (Tensor): ``(N, D)`` unit rows.
        members (Tensor): Rows of ``feats``, ``(M,)`` long.
        labels (Tensor): Row of ``centroids`` of each member, ``(M,)`` long.

    Returns:
        Tensor: ``(M,)`` similarities.
    """
    sims = feats.new_empty(members.shape[0])
    for start in range(0, members.shape[0], CHUNK):
        stop = start + CHUNK
        sims[start:stop] = torch.einsum('md,md->m', feats[members[start:stop]],
                                        centroids[labels[start:stop]])
    return sims


def select_soft_prototypes(
        centroids: torch.Tensor, feats: torch.Tensor,
        pseudo_labels: torch.Tensor,
        num_prototypes: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pick, for every cluster, its members most similar to its centroid.

    Members are the rows of ``feats`` (the instance memory) with
    ``pseudo_labels == y``; they are ranked by similarity to ``centroids[y]``
    (the dot product of the unit rows, i.e. their cosine similarity; ties
    keep the lower row first) and the first ``num_prototypes`` kept (the
    soft prototypes of SPCL-ID, docs/en/recipes.md §6). A cluster with fewer
    members gets them all and a ``False`` mask on the missing places (the
    loss drops those from its sums, nothing is repeated). Vectorised: a sort
    by similarity, then by label, no loop over clusters or samples.

    This is the selection from scratch, ``O(N·D)``;
    :class:`CrossModalMemory` keeps the selection of its memories current
    by reselecting only the clusters a step changed, with the same result.
    ``pseudo_labels`` must be ``-1`` or in ``[0, C)``; :meth:`CrossModalMemory.
    reset` checks the labels it keeps once per clustering, so this function
    does not (a check would cost two host syncs).

    Args:
        centroids (Tensor): Cluster prototypes ``c``, unit rows, ``(C, D)``.
        feats (Tensor): Instance features, unit rows, ``(N, D)``.
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
    members = torch.nonzero(pseudo_labels >= 0).flatten()
    indices = rank_members(centroids, feats, members, pseudo_labels[members],
                           num_prototypes)
    return indices, indices >= 0


def rank_members(centroids: torch.Tensor, feats: torch.Tensor,
                 members: torch.Tensor, labels: torch.Tensor,
                 num_prototypes: int) -> torch.Tensor:
    """The first ``num_prototypes`` of ``members`` of every cluster, by
    decreasing similarity to its centroid (ties: earlier in ``members``
    first).

    Args:
        centroids (Tensor): ``(C, D)`` unit rows.
        feats (Tensor): ``(N, D)`` unit rows.
        members (Tensor): Candidate rows of ``feats``, ``(M,)`` long.
        labels (Tensor): Their clusters in ``[0, C)``, ``(M,)`` long.
        num_prototypes (int): ``n``.

    Returns:
        Tensor: ``(C, n)`` long rows of ``feats``, ``-1`` where a cluster
        has fewer candidates (every row of a cluster without any).
    """
    indices = torch.full((centroids.shape[0], num_prototypes),
                         -1,
                         dtype=torch.long,
                         device=feats.device)
    sims = member_similarities(centroids, feats, members, labels)
    by_sim = torch.sort(sims, descending=True, stable=True).indices
    members, labels = members[by_sim], labels[by_sim]
    ranks = occurrence_rank(labels)
    kept = ranks < num_prototypes
    indices[labels[kept], ranks[kept]] = members[kept]
    return indices


class ClusterBank:
    """One modality's cluster memory as the losses of one step read it.

    :meth:`CrossModalMemory.cluster_bank` builds one per modality at the
    start of a step; every loss of the step that contrasts with that
    modality's clusters (the within-modality term of its queries, the
    cross-modality term of the other modality's) reads the same bank, so
    the soft prototypes of each ``n`` are looked up once per step. The
    tensors are the memories' buffers: they are updated in place after the
    step's backward pass.

    Soft prototypes come from ``prototype_indices`` (the memory's selection,
    kept current as the memories move) or, without it, are selected from
    scratch among ``members`` (:func:`select_soft_prototypes`). A query's
    own instance slot (``slots``) is never one of its soft prototypes when
    the loss asks so (``exclude_self``): the next member of the cluster
    takes its place.

    Args:
        features (Tensor): Cluster prototypes (centroids) ``c``, ``(C, D)``.
        temperature (float): ``τ`` of the cluster memory (:meth:`logits`).
        instances (Tensor, optional): The instance memory, ``(N, D)``;
            needed by :meth:`soft_prototypes`.
        members (Tensor, optional): Cluster of each instance in this bank's
            label space, ``-1`` for outliers and for the other modality's
            images, ``(N,)``.
        slots (Tensor, optional): Instance slot (``sample_idx``) of every
            query of the batch, ``(B,)``; None when the queries are not
            instances of the memory (nothing to exclude).
        prototype_indices (Callable, optional): ``num -> (C, num)`` long
            rows of ``instances`` (``-1`` where missing), as
            :func:`select_soft_prototypes` returns them.

    Example:
        >>> bank = memory.cluster_bank(IR, slots=sample_idx)
        >>> logits = bank.logits(queries)          # (B, C) = q·cᵀ/τ
        >>> prototypes, mask = bank.soft_prototypes(4, rows, labels)
    """

    def __init__(self,
                 features: torch.Tensor,
                 temperature: float,
                 instances: Optional[torch.Tensor] = None,
                 members: Optional[torch.Tensor] = None,
                 slots: Optional[torch.Tensor] = None,
                 prototype_indices: Optional[Callable[[int],
                                                      torch.Tensor]] = None):
        if instances is None and (members is not None
                                  or prototype_indices is not None):
            raise ValueError('ClusterBank: members and prototype_indices '
                             'index instances; give the instances too')
        if instances is not None and (members is None) == (
                prototype_indices is None):
            raise ValueError('ClusterBank: give the instances with either '
                             'members or prototype_indices')
        self.features = features
        self.temperature = temperature
        self.instances = instances
        self.members = members
        self.slots = slots
        self._select = prototype_indices
        self._indices: Dict[int, torch.Tensor] = {}

    @property
    def num_clusters(self) -> int:
        """int: ``C``, the clusters of the bank (0 when none formed)."""
        return self.features.shape[0]

    @float32_forward
    def logits(self, queries: torch.Tensor) -> torch.Tensor:
        """``q·cᵀ/τ``, shape ``(B, C)``, float32 (also under
        ``torch.autocast``), differentiable in ``queries``."""
        return queries.matmul(self.features.t()) / self.temperature

    def prototype_indices(self, num: int) -> torch.Tensor:
        """The ``num`` members of every cluster nearest its centroid.

        Args:
            num (int): Members per cluster.

        Returns:
            Tensor: ``(C, num)`` long rows of the instance memory in
            decreasing similarity, ``-1`` where missing.
        """
        if self.instances is None:
            raise ValueError(
                'ClusterBank: soft prototypes are members of the instance '
                'memory, and this bank has none (the head builds it when a '
                'loss needs instances)')
        if num not in self._indices:
            if self._select is not None:
                self._indices[num] = self._select(num)
            else:
                self._indices[num] = select_soft_prototypes(
                    self.features, self.instances, self.members, num)[0]
        return self._indices[num]

    def soft_prototypes(
            self,
            num: int,
            rows: torch.Tensor,
            labels: torch.Tensor,
            exclude_self: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        """The soft prototypes of some queries of the batch.

        Args:
            num (int): ``n``, soft prototypes per query.
            rows (Tensor): Positions of the queries in the batch, ``(R,)``.
            labels (Tensor): Their clusters in ``[0, C)``, ``(R,)``.
            exclude_self (bool): Leave out each query's own instance slot
                (``slots[rows]``), taking the cluster's next member instead.
                Defaults to True.

        Returns:
            tuple[Tensor, Tensor]: ``prototypes`` ``(R, n, D)`` (zeros where
            missing) and ``mask`` ``(R, n)`` bool, True where a prototype
            exists, in decreasing similarity to the centroid.
        """
        if not exclude_self or self.slots is None:
            indices = self.prototype_indices(num)[labels]
        else:
            # one candidate more than needed: the query's own slot is at
            # most one of them
            candidates = self.prototype_indices(num + 1)[labels]
            valid = (candidates >= 0) & (
                candidates != self.slots[rows].unsqueeze(1))
            place = torch.cumsum(valid, dim=1) - 1
            keep = valid & (place < num)
            indices = candidates.new_full((labels.shape[0], num + 1), -1)
            indices.scatter_(1, torch.where(keep, place, num),
                             torch.where(keep, candidates, -1))
            indices = indices[:, :num]
        mask = indices >= 0
        prototypes = self.instances[indices.clamp(min=0)] * mask.unsqueeze(-1)
        return prototypes, mask
