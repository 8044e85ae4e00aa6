"""Cluster contrast loss (docs/en/recipes.md §5)."""
import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.registry import MODELS
from ..utils.precision import float32_forward


@MODELS.register_module()
class ClusterContrastLoss(nn.Module):
    """InfoNCE of each query against the cluster memory.

    ``L = −log softmax(q·Mᵀ/τ)[y]`` averaged over the queries with a
    pseudo-label ``y ≥ 0``; queries labelled ``-1`` (DBSCAN outliers, or
    queries of unmatched clusters in the cross-modality term) are left out.
    The logits come from the bank (:meth:`ClusterBank.logits`), which holds
    the cluster memory's ``τ``; computed in float32, also under
    ``torch.autocast``.

    A memory loss: ``loss(queries, labels, memory)`` with ``memory`` the
    :class:`ClusterBank` that ``labels`` index, as every loss of
    :class:`MemoryContrastHead`. The labels must be ``-1`` or in
    ``[0, C)``; the head checks them once per batch
    (:meth:`CrossModalMemory.check_batch`), not this loss.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss_cfg = dict(type='ClusterContrastLoss', loss_weight=1.0)
        >>> loss = MODELS.build(loss_cfg)(feats, pseudo_labels,
        ...                               memory.cluster_bank(RGB))
    """

    #: The memory it contrasts with: ``'cluster'`` or ``'instance'``.
    MEMORY = 'cluster'
    #: Whether its bank needs the instance memory.
    NEEDS_INSTANCES = False

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    @float32_forward
    def forward(self, queries: torch.Tensor, labels: torch.Tensor,
                memory) -> torch.Tensor:
        """Compute the loss.

        Args:
            queries (Tensor): L2-normalised queries ``q``, shape ``(B, D)``.
            labels (Tensor): Pseudo-labels, shape ``(B,)``, in ``[0, C)`` or
                ``-1`` to ignore.
            memory (ClusterBank): The cluster memory, ``C`` prototypes.

        Returns:
            Tensor: Scalar loss; 0 (still attached to ``queries``) when no
            query has a label.
        """
        if queries.dim() != 2 or labels.shape != queries.shape[:1]:
            raise ValueError(
                'ClusterContrastLoss: expected queries (B, D) and labels '
                f'(B,), got {tuple(queries.shape)} and '
                f'{tuple(labels.shape)}')
        if memory.num_clusters == 0:  # then every label is -1
            return queries.sum() * 0.0
        # the labelled queries only, at one host sync (their number)
        rows = torch.nonzero(labels >= 0).flatten()
        logits = memory.logits(queries)
        if rows.numel() == 0:
            return logits.sum() * 0.0
        loss = F.cross_entropy(logits[rows], labels[rows])
        return self.loss_weight * loss
