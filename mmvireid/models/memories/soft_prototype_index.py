"""The soft prototypes of one modality's clusters, kept current as the
memories move."""
from typing import Dict

import torch

from .cluster_bank import rank_members


class SoftPrototypeIndex:
    """The ``n`` members of every cluster nearest its centroid, reselected
    only where a step changed the memories.

    The soft prototypes of cluster ``y`` (docs/en/recipes.md §6) depend on
    its centroid ``c_y`` and on the instance slots of its members only. A
    training step moves the centroids of the clusters in its batch and the
    slots of its images, which belong to those same clusters (or to the
    clusters a cross-modality update moves). :meth:`mark` flags the clusters
    a step changed; :meth:`indices` reselects the flagged clusters among
    their members and keeps the others: the result is exactly the selection
    from scratch (:func:`select_soft_prototypes`) on the current memories, at
    a cost of the flagged clusters' members (a few hundred rows a step at
    SYSU-MM01's size) instead of every instance (``O(N·D)``).

    Built by :class:`CrossModalMemory` after every clustering (and after a
    load or a write it did not log), from the members of each cluster.

    Args:
        members (Tensor): Cluster of every instance slot in this modality's
            label space, ``-1`` for outliers and for the other modality's
            images, ``(N,)``.
        num_clusters (int): ``C``.

    Example:
        >>> index = SoftPrototypeIndex(members, num_clusters)
        >>> index.indices(4, centroids, instances)   # (C, 4), from scratch
        >>> index.mark(torch.tensor([3, 7]))          # after a step
        >>> index.indices(4, centroids, instances)   # clusters 3, 7 redone
    """

    def __init__(self, members: torch.Tensor, num_clusters: int):
        slots = torch.nonzero(members >= 0).flatten()
        labels = members[slots]
        order = torch.sort(labels, stable=True).indices
        # the members grouped by cluster, each group in slot order
        self.slots, self.labels = slots[order], labels[order]
        sizes = torch.bincount(self.labels, minlength=num_clusters)
        self.offsets = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)])
        self.num_clusters = num_clusters
        self._indices: Dict[int, torch.Tensor] = {}
        self._dirty: Dict[int, torch.Tensor] = {}

    def mark(self, clusters: torch.Tensor) -> None:
        """Flag clusters whose centroid or member slots changed.

        Args:
            clusters (Tensor): Clusters in ``[0, C)``, any shape, repeats
                allowed.
        """
        for dirty in self._dirty.values():
            dirty[clusters] = True

    def indices(self, num: int, centroids: torch.Tensor,
                instances: torch.Tensor) -> torch.Tensor:
        """The current soft prototypes of every cluster.

        Args:
            num (int): ``n``, prototypes per cluster.
            centroids (Tensor): The cluster memory, ``(C, D)`` unit rows.
            instances (Tensor): The instance memory, ``(N, D)`` unit rows.

        Returns:
            Tensor: ``(C, n)`` long slots in decreasing similarity to the
            centroid, ``-1`` where a cluster has fewer members.
        """
        if num not in self._indices:
            self._indices[num] = rank_members(centroids, instances,
                                              self.slots, self.labels, num)
            self._dirty[num] = torch.zeros(
                self.num_clusters, dtype=torch.bool, device=self.slots.device)
            return self._indices[num]
        dirty = self._dirty[num]
        clusters = torch.nonzero(dirty).flatten()
        if clusters.numel():
            starts = self.offsets[clusters]
            sizes = self.offsets[clusters + 1] - starts
            # the positions of the flagged clusters' members, group by group
            shifts = starts - (sizes.cumsum(0) - sizes)
            positions = torch.arange(
                int(sizes.sum()),
                device=sizes.device) + torch.repeat_interleave(shifts, sizes)
            redone = rank_members(centroids, instances, self.slots[positions],
                                  self.labels[positions], num)
            self._indices[num][clusters] = redone[clusters]
            dirty.zero_()
        return self._indices[num]
