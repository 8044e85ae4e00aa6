"""Instance memory of SPCL-ID's instance discrimination (docs/en/recipes.md
§6)."""
from typing import Optional

import torch

from mmvireid.registry import MODELS
from ..utils.precision import float32_forward
from .base_memory import BaseMemory


@MODELS.register_module()
class InstanceMemory(BaseMemory):
    """One L2-normalised slot per training image, ``(N, D)``.

    :meth:`reset` fills it with the features extracted before an epoch;
    :meth:`update` moves the slots of a batch towards its features with the
    cluster memory's convention: ``I_i ← μ·I_i + (1 − μ)·q``, renormalised,
    ``μ = momentum`` the weight of the OLD value (the opposite of MMEngine's
    EMA). Duplicates of one index in a batch apply one after the other;
    indices ``-1`` are ignored. Under DDP the batch is all-gathered in rank
    order first, so every rank holds the same memory.

    Args:
        feat_dim (int): Feature dimension ``D``.
        momentum (float): Weight ``μ`` of the old slot. Defaults to 0.1.
        temperature (float): Temperature ``τ_i`` of :meth:`logits`.
            Defaults to 0.05.

    Example:
        >>> memory = MODELS.build(
        ...     dict(type='InstanceMemory', feat_dim=2048, momentum=0.1))
        >>> memory.reset(train_feats)            # (N, 2048)
        >>> memory.update(feats, sample_indices)  # (B, 2048), (B,)
    """

    KEY_NAME = 'indices'

    @torch.no_grad()
    def apply_update(self, feats: torch.Tensor,
                     indices: torch.Tensor) -> None:
        """Momentum-update the slots of a gathered, checked batch.

        Args:
            feats (Tensor): L2-normalised features of every rank, ``(ΣB, D)``.
            indices (Tensor): Slot (dataset index) of each sample, ``(ΣB,)``,
                in ``[0, N)`` or ``-1``.
        """
        self._momentum_update(feats, indices)

    @float32_forward
    def logits(self,
               feats: torch.Tensor,
               indices: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Similarities to all slots, or to chosen slots, over ``τ``.

        Args:
            feats (Tensor): L2-normalised queries ``q``, shape ``(B, D)``.
            indices (Tensor, optional): Slots to compare with: ``(K,)`` the
                same for every query, or ``(B, K)`` per query. ``None``: all.

        Returns:
            Tensor: ``(B, N)`` without ``indices``, else ``(B, K)``;
            differentiable in ``feats`` only.
        """
        if indices is None:
            return super().logits(feats)
        self._check_feats(feats, 'logits')
        if indices.dim() == 1:
            return feats.matmul(self.features[indices].t()) / self.temperature
        if indices.dim() != 2 or indices.shape[0] != feats.shape[0]:
            raise ValueError(
                'InstanceMemory.logits: indices must have shape (K,) or '
                f'({feats.shape[0]}, K), got {tuple(indices.shape)}')
        return torch.einsum('bd,bkd->bk', feats,
                            self.features[indices]) / self.temperature
