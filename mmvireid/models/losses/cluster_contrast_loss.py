"""Cluster contrast loss (methods.md section 5)."""
import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.registry import MODELS


@MODELS.register_module()
class ClusterContrastLoss(nn.Module):
    """InfoNCE of each query against the cluster memory.

    ``L = −log softmax(q·Mᵀ/τ)[y]`` averaged over the queries with a
    pseudo-label ``y ≥ 0``; queries labelled ``-1`` (DBSCAN outliers) are
    left out. The logits come from :meth:`ClusterMemory.logits`, which holds
    ``τ``, so the loss is a pure function of ``logits`` and ``labels``.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss_cfg = dict(type='ClusterContrastLoss', loss_weight=1.0)
        >>> loss = MODELS.build(loss_cfg)(memory.logits(feats), pseudo_labels)
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): ``q·Mᵀ/τ``, shape ``(B, C)``.
            labels (Tensor): Pseudo-labels, shape ``(B,)``, in ``[0, C)`` or
                ``-1`` to ignore.

        Returns:
            Tensor: Scalar loss; 0 (still attached to ``logits``) when no
            query has a label.
        """
        if logits.dim() != 2 or labels.shape != logits.shape[:1]:
            raise ValueError(
                'ClusterContrastLoss: expected logits (B, C) and labels '
                f'(B,), got {tuple(logits.shape)} and {tuple(labels.shape)}')
        num_classes = logits.shape[1]
        if labels.numel() and (int(labels.min()) < -1
                               or int(labels.max()) >= num_classes):
            raise ValueError(
                'ClusterContrastLoss: labels must be -1 (ignored) or in '
                f'[0, {num_classes}), got values in [{int(labels.min())}, '
                f'{int(labels.max())}]')
        valid = labels >= 0
        if not bool(valid.any()):
            return logits.sum() * 0.0
        loss = F.cross_entropy(logits[valid], labels[valid])
        return self.loss_weight * loss
