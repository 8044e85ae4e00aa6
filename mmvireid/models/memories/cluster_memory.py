"""Cluster memory of cluster contrast (docs/en/recipes.md §5)."""
import torch

from mmvireid.registry import MODELS
from .base_memory import BaseMemory


@MODELS.register_module()
class ClusterMemory(BaseMemory):
    """One L2-normalised prototype per pseudo-label cluster, ``(C, D)``.

    :meth:`reset` installs the centroids after each clustering (``C`` changes
    every epoch; the memory starts with ``C = 0``). :meth:`update` then moves
    prototypes towards the batch features after every step, per sample of
    class ``y``: ``m_y ← μ·m_y + (1 − μ)·q``, ``m_y ← m_y / ‖m_y‖``, with
    ``μ = momentum`` the weight of the OLD value (``momentum=0.1``: the old
    value keeps 10 %; the opposite of MMEngine's EMA convention).

    - ``mode='mean'``: every sample updates its class, in batch order (two
      samples of one class apply one after the other).
    - ``mode='hard'``: every class present is updated once, with its batch
      sample least similar to ``m_y`` (the first such sample on ties).

    Labels ``-1`` (DBSCAN outliers) are ignored. Under DDP the batch is first
    all-gathered in rank order, so every rank applies the same update and the
    memories stay identical.

    Args:
        feat_dim (int): Feature dimension ``D``.
        momentum (float): Weight ``μ`` of the old prototype. Defaults to 0.1.
        temperature (float): Temperature ``τ`` of :meth:`logits`.
            Defaults to 0.05.
        mode (str): ``'mean'`` or ``'hard'``. Defaults to ``'mean'``.

    Example:
        >>> memory_cfg = dict(type='ClusterMemory', feat_dim=2048,
        ...                   momentum=0.1, temperature=0.05, mode='hard')
        >>> memory = MODELS.build(memory_cfg)
        >>> memory.reset(centroids)          # (C, 2048), after clustering
        >>> logits = memory.logits(feats)    # (B, C) = q·Mᵀ/τ
        >>> memory.update(feats, pseudo_labels)  # after the loss
    """

    MODES = ('mean', 'hard')
    KEY_NAME = 'labels'

    def __init__(self,
                 feat_dim: int,
                 momentum: float = 0.1,
                 temperature: float = 0.05,
                 mode: str = 'mean'):
        super().__init__(feat_dim, momentum, temperature)
        if mode not in self.MODES:
            raise ValueError(f'ClusterMemory: mode must be one of '
                             f'{self.MODES}, got {mode!r}')
        self.mode = mode

    @torch.no_grad()
    def apply_update(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Momentum-update the prototypes with a gathered, checked batch.

        Args:
            feats (Tensor): L2-normalised features of every rank, ``(ΣB, D)``.
            labels (Tensor): Pseudo-labels, ``(ΣB,)``, in ``[0, C)`` or
                ``-1``.
        """
        if self.mode == 'hard':
            feats, labels = self._hardest(feats, labels)
        self._momentum_update(feats, labels)

    def _hardest(self, feats: torch.Tensor, labels: torch.Tensor):
        """Each present class's batch sample least similar to its prototype.

        Returns:
            tuple[Tensor, Tensor]: Features ``(K, D)`` and their distinct
            labels ``(K,)``, ``K`` the number of classes in the batch.
        """
        valid = labels >= 0
        feats, labels = feats[valid].to(self.features), labels[valid]
        sims = (feats * self.features[labels]).sum(dim=1)
        classes, inverse = torch.unique(labels, return_inverse=True)
        min_sims = sims.new_full((classes.numel(), ), float('inf'))
        min_sims.scatter_reduce_(0, inverse, sims, reduce='amin')
        positions = torch.arange(labels.numel(), device=labels.device)
        candidates = torch.where(sims == min_sims[inverse], positions,
                                 labels.numel())
        first = torch.full_like(classes, labels.numel())
        first.scatter_reduce_(0, inverse, candidates, reduce='amin')
        return feats[first], classes
