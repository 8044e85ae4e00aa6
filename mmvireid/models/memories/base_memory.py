"""Common base of the momentum-updated feature memories."""
from abc import ABCMeta, abstractmethod
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..utils import all_gather_batch, occurrence_rank, resize_buffers
from ..utils.precision import float32_forward


class BaseMemory(nn.Module, metaclass=ABCMeta):
    """A ``(M, D)`` bank of L2-normalised features with a momentum update.

    The bank is a buffer, not a parameter: no gradient reaches it, and
    :meth:`reset` may change ``M`` at any time (the clustering rebuilds it
    every epoch, after MMEngine has sized the train loop and built the
    optimizer from the model's parameters). It starts empty (``M = 0``). It
    is saved in checkpoints, so a resumed run continues with the memory an
    uninterrupted run would have; loading a state dict resizes the bank to
    the saved ``(M, D)`` first. (An instance memory of SYSU-MM01 at
    ``D = 2048`` adds about 280 MB to a checkpoint.)

    Updates write into the bank in place (no copy of a bank that may hold
    hundreds of megabytes): :class:`MemoryContrastHead` applies them once
    the backward pass of the step has used the bank the losses saved.
    Every updated row is logged for :meth:`pop_updated_keys`, with which
    the soft prototypes are kept current without reselecting them all.

    Momentum convention (docs/en/recipes.md §5): for an update with feature
    ``q`` of entry ``k``, ``m_k ← μ·m_k + (1 − μ)·q`` then
    ``m_k ← m_k / ‖m_k‖``; ``momentum=μ=0.1`` means the OLD value keeps 10 %.
    This is the opposite of MMEngine's ``ExponentialMovingAverage``, whose
    ``momentum`` is the weight of the NEW value.

    Subclasses define :meth:`apply_update`, the rule for a batch that has
    already been gathered from every rank and checked; :meth:`update` checks
    and gathers a rank's batch first.

    Args:
        feat_dim (int): Feature dimension ``D``.
        momentum (float): Weight ``μ`` of the old value, in ``[0, 1]``.
            Defaults to 0.1.
        temperature (float): Temperature ``τ`` of :meth:`logits`.
            Defaults to 0.05.
    """

    #: Buffers whose length changes with the clustering (resized on load).
    RESIZABLE_BUFFERS = ('features', )
    #: What the keys of :meth:`update` are, for error messages.
    KEY_NAME = 'keys'

    def __init__(self,
                 feat_dim: int,
                 momentum: float = 0.1,
                 temperature: float = 0.05):
        super().__init__()
        name = type(self).__name__
        if feat_dim <= 0:
            raise ValueError(f'{name}: feat_dim must be > 0, got {feat_dim}')
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(
                f'{name}: momentum must be in [0, 1], got {momentum}')
        if temperature <= 0:
            raise ValueError(
                f'{name}: temperature must be > 0, got {temperature}')
        self.feat_dim = feat_dim
        self.momentum = momentum
        self.temperature = temperature
        self.register_buffer('features', torch.zeros(0, feat_dim))
        # keys written by _momentum_update since pop_updated_keys, None when
        # the whole bank may have changed; the bank's version after the last
        # logged write
        self._updated_keys: Optional[List[torch.Tensor]] = None
        self._logged_version = -1

    def __setattr__(self, name, value):
        if name == 'features':  # a new bank: every row may have changed
            self.__dict__['_updated_keys'] = None
        super().__setattr__(name, value)

    def _apply(self, *args, **kwargs):
        """Moving or casting the module (``.to()``) replaces the bank."""
        self._updated_keys = None
        return super()._apply(*args, **kwargs)

    def __len__(self) -> int:
        return self.features.shape[0]

    def reset(self, feats: torch.Tensor) -> None:
        """Replace the bank by ``feats``, L2-normalised row-wise.

        Args:
            feats (Tensor): New entries, shape ``(M, D)``; ``M`` may differ
                from the current size. Kept on the bank's device and dtype.
        """
        self._check_feats(feats, 'reset')
        self.features = F.normalize(feats.detach().to(self.features), dim=1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Resize the bank to the saved one before loading it."""
        resize_buffers(self, state_dict, prefix, self.RESIZABLE_BUFFERS)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @float32_forward
    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        """Similarities to every entry over the temperature.

        Args:
            feats (Tensor): L2-normalised queries ``q``, shape ``(B, D)``.

        Returns:
            Tensor: ``q·Mᵀ/τ``, shape ``(B, M)``, float32 (also under
            ``torch.autocast``); differentiable in ``feats`` only.
        """
        self._check_feats(feats, 'logits')
        return feats.matmul(self.features.t()) / self.temperature

    @torch.no_grad()
    @float32_forward
    def update(self, feats: torch.Tensor, keys: torch.Tensor) -> None:
        """Check a rank's batch, gather every rank's, then
        :meth:`apply_update`.

        Under DDP the batches are all-gathered in rank order, so every rank
        applies the same update and the memories stay identical.

        Args:
            feats (Tensor): L2-normalised features of this rank, ``(B, D)``.
            keys (Tensor): Entry of each feature, ``(B,)``, in ``[0, M)`` or
                ``-1`` (ignored).
        """
        self.check_keys(feats, keys, 'update')
        self.apply_update(*all_gather_batch(feats.detach(), keys))

    @abstractmethod
    def apply_update(self, feats: torch.Tensor, keys: torch.Tensor) -> None:
        """The update rule for a gathered and checked batch.

        Args:
            feats (Tensor): Features of every rank, ``(ΣB, D)``.
            keys (Tensor): Entries, ``(ΣB,)``, in ``[0, M)`` or ``-1``.
        """

    def _check_feats(self, feats: torch.Tensor, method: str) -> None:
        if feats.dim() != 2 or feats.shape[1] != self.feat_dim:
            raise ValueError(
                f'{type(self).__name__}.{method}: feats must have shape '
                f'(B, {self.feat_dim}), got {tuple(feats.shape)}')

    def check_keys(self, feats: torch.Tensor, keys: torch.Tensor,
                   method: str) -> None:
        """Raise unless ``keys`` are ``(B,)`` entries of the bank or -1."""
        self._check_feats(feats, method)
        name = f'{type(self).__name__}.{method}'
        field = self.KEY_NAME
        if keys.shape != feats.shape[:1]:
            raise ValueError(f'{name}: {field} must have shape '
                             f'({feats.shape[0]},), got {tuple(keys.shape)}')
        if keys.numel() and (int(keys.min()) < -1
                             or int(keys.max()) >= len(self)):
            raise ValueError(
                f'{name}: {field} must be -1 (ignored) or in [0, {len(self)})'
                f' for a memory of {len(self)} entries, got values in '
                f'[{int(keys.min())}, {int(keys.max())}]')

    def pop_updated_keys(self) -> Optional[torch.Tensor]:
        """The entries :meth:`apply_update` wrote since the last call.

        Returns:
            Tensor | None: The keys written, ``(K,)`` long, with repeats;
            None when any entry may have changed otherwise (a
            :meth:`reset`, a loaded state dict, a move to another device,
            a broadcast or any other write into the bank), so that the
            caller has to read the whole bank again.
        """
        keys, self._updated_keys = self._updated_keys, []
        changed = self.features._version != self._logged_version
        self._logged_version = self.features._version
        if keys is None or changed:
            return None
        if not keys:
            return torch.zeros(0, dtype=torch.long,
                               device=self.features.device)
        return torch.cat(keys)

    @torch.no_grad()
    def _momentum_update(self, feats: torch.Tensor,
                         keys: torch.Tensor) -> None:
        """Apply the momentum update of every row of ``feats``, in order, in
        place.

        Rows with ``keys == -1`` are skipped. Two rows with the same key are
        applied one after the other, exactly as a loop over the rows would;
        the loop runs over the occurrence rank (at most the largest number of
        rows sharing one key), all keys of one rank at once. The keys written
        are logged for :meth:`pop_updated_keys`.

        Args:
            feats (Tensor): Features, shape ``(B, D)``.
            keys (Tensor): Entry of each row, shape ``(B,)``, ``-1`` to skip.
        """
        valid = keys >= 0
        feats = feats.detach()[valid].to(self.features)
        keys = keys[valid]
        if keys.numel() == 0:
            return
        ranks = occurrence_rank(keys)
        bank = self.features
        in_sync = bank._version == self._logged_version
        for rank in range(int(ranks.max()) + 1):
            selected = ranks == rank
            entries = keys[selected]
            updated = self.momentum * bank[entries] + (
                1.0 - self.momentum) * feats[selected]
            bank[entries] = F.normalize(updated, dim=1)
        if in_sync and self._updated_keys is not None:
            self._updated_keys.append(keys)
            self._logged_version = bank._version
