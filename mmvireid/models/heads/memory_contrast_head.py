"""Memory-contrast head of unsupervised VI-ReID: cluster contrast and
SPCL-ID."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import nn

from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB
from ..memories import CrossModalMemory
from ..utils import progressive_weight
from .bnneck_head import BNNeckHead


@MODELS.register_module(name=['MemoryContrastHead', 'SPCLHead'])
class MemoryContrastHead(BNNeckHead):
    r"""BN-neck head that contrasts queries with memories
    (docs/en/recipes.md §5, §6).

    The query ``q`` is the L2-normalised BN-neck output. The memories (a
    cluster memory per modality, their RGB↔IR association, the instance
    memory and the pseudo-labels) belong to a :class:`CrossModalMemory`,
    ``self.memory``, which :class:`ClusteringHook` rebuilds every epoch.
    After every step the head hands it the batch to update
    (:meth:`CrossModalMemory.update_after_backward`): gathered from every
    rank in the forward pass, applied in place once the backward pass has
    used the memories the losses saved (no bank is copied).
    Registered also as ``SPCLHead``, its former name.

    Losses, each switched off with ``None``; each is called as
    ``loss(queries, labels, memory)``:

    - ``loss_intra``: a query against its modality's cluster memory;
      :class:`ClusterContrastLoss` (the ADCA / PGM baseline) or
      :class:`SoftPrototypeContrastLoss` (SPCL-ID; ``soft_weighting=False``
      and ``alpha=1`` are its ablations).
    - ``loss_cross``: the same kinds of loss against the OTHER modality's
      memory, the positive being the cluster associated with the query's
      own; queries of unmatched clusters are skipped. Its ``loss_weight`` is
      ``λ_cm``. ``cross_direction='both'`` (ours) runs it for the RGB and the
      IR queries at every step; ``'alternate'`` (PGM's alternate learning)
      for the RGB queries against the IR memory in even epochs and the IR
      queries against the RGB memory in odd ones (zesenwu23/USL-VI-ReID
      ``clustercontrast/trainers.py`` L80–91), the epoch handed over by
      :class:`ProgressiveScheduleHook`. With ``cross_memory_update=True``
      the cross term's queries also update the memory they are contrasted
      with, at their associated clusters (PGM: the cross call goes through
      that memory's update; :meth:`CrossModalMemory.update`).
    - ``loss_instance``: :class:`InstanceDiscriminationLoss` against the
      instance memory, the query's own slot (``sample_idx``) the positive.

    The modality terms are summed (each the mean over its labelled queries).
    With ``progressive`` (keyword arguments of :func:`progressive_weight`),
    ``L = (1 − λ(e))·L_ins + λ(e)·L_intra + λ(e)·L_cross`` (so
    ``λ_cm(e) = λ_cm·λ(e)``: the association is only trusted as much as the
    clusters), ``e`` the epoch that :class:`ProgressiveScheduleHook` hands
    over with :meth:`set_epoch`; λ is logged as ``lambda``. Without it the
    three terms are simply added. A term whose weight is 0 (λ = 0, or
    1 − λ = 0 after the ramp, or a ``loss_weight`` of 0) is not computed
    and logged as 0. The queries and every loss are float32, also under
    ``torch.autocast``.

    Losses are logged as ``loss_instance``, ``loss_intra``, ``loss_cross``,
    already weighted. A modality whose clustering found no cluster has an
    empty memory; its queries are outliers (label -1) and only the instance
    loss uses them. The batch's labels are checked against the memory once
    per step (:meth:`CrossModalMemory.check_batch`).

    Checkpoints of the former ``SPCLHead`` (memories under ``head.`` instead
    of ``head.memory.``) load unchanged.

    Args:
        in_channels (int): Feature dimension D. Defaults to 2048.
        cluster_memory (dict): Config of the two :class:`ClusterMemory`
            (``feat_dim`` is set here). Defaults to momentum 0.1,
            temperature 0.05, ``mode='mean'``.
        instance_memory (dict): Config of the :class:`InstanceMemory`, built
            only when a loss needs instances (``loss_instance`` or a soft
            prototype loss). Defaults to momentum 0.1.
        loss_intra (dict, optional): Within-modality cluster loss.
        loss_cross (dict, optional): Cross-modality cluster loss.
        loss_instance (dict, optional): Instance discrimination loss.
        progressive (dict, optional): ``ramp_epochs``, ``mode``, ``start``,
            ``end`` of λ; needs ``loss_intra`` and ``loss_instance``.
        cross_direction (str): ``'both'`` or ``'alternate'`` (see
            ``loss_cross``). Defaults to ``'both'``.
        cross_memory_update (bool): Update the other modality's memory with
            the cross term's queries. Defaults to False.
        memory_aggregation (float, optional): ADCA's cross-modality memory
            aggregation weight λ (:class:`CrossModalMemory`
            ``aggregation``): each RGB prototype becomes ``λ·m_rgb +
            (1 − λ)·m_ir`` of its associated IR cluster after every
            clustering. Defaults to None (none).
        test_feature (str): ``'bn'``, ``'pool'`` or ``'concat'``, as
            :class:`BNNeckHead`. Defaults to ``'bn'``.

    Shapes:
        - inputs: a tuple of (B, D) pooled features (the last one is used).
        - data samples (training): ``pseudo_label`` and ``sample_idx``
          metainfo (packed by ``PackVIReIDInputs``); ``modality`` comes as
          a (B,) tensor from the data preprocessor.
        - ``pre_logits``: (B, D), or (B, 2D) for ``'concat'``.

    Example:
        >>> head = dict(
        ...     type='MemoryContrastHead', in_channels=2048,
        ...     cluster_memory=dict(type='ClusterMemory', momentum=0.1,
        ...                         temperature=0.05, mode='hard'),
        ...     loss_intra=dict(type='SoftPrototypeContrastLoss',
        ...                     num_soft_prototypes=4, alpha=0.5),
        ...     loss_cross=dict(type='SoftPrototypeContrastLoss',
        ...                     num_soft_prototypes=4, alpha=0.5,
        ...                     loss_weight=0.5),
        ...     loss_instance=dict(type='InstanceDiscriminationLoss',
        ...                        temperature=0.05, num_negatives=8192),
        ...     progressive=dict(ramp_epochs=20, mode='linear'))
    """

    #: The ReID model passes the (B,) modality tensor to :meth:`loss`.
    takes_modality = True
    #: Values of ``cross_direction``.
    CROSS_DIRECTIONS = ('both', 'alternate')

    def __init__(self,
                 in_channels: int = 2048,
                 cluster_memory: dict = dict(
                     type='ClusterMemory',
                     momentum=0.1,
                     temperature=0.05,
                     mode='mean'),
                 instance_memory: dict = dict(
                     type='InstanceMemory', momentum=0.1),
                 loss_intra: Optional[dict] = dict(
                     type='SoftPrototypeContrastLoss'),
                 loss_cross: Optional[dict] = dict(
                     type='SoftPrototypeContrastLoss', loss_weight=0.5),
                 loss_instance: Optional[dict] = dict(
                     type='InstanceDiscriminationLoss'),
                 progressive: Optional[dict] = dict(
                     ramp_epochs=20, mode='linear'),
                 cross_direction: str = 'both',
                 cross_memory_update: bool = False,
                 memory_aggregation: Optional[float] = None,
                 test_feature: str = 'bn',
                 init_cfg: Optional[dict] = None):
        super().__init__(
            in_channels=in_channels,
            loss_id=None,
            loss_triplet=None,
            test_feature=test_feature,
            init_cfg=init_cfg)
        self.loss_intra = self._build_loss(loss_intra, 'loss_intra',
                                           'cluster')
        self.loss_cross = self._build_loss(loss_cross, 'loss_cross',
                                           'cluster')
        self.loss_instance = self._build_loss(loss_instance, 'loss_instance',
                                              'instance')
        losses = [
            loss for loss in (self.loss_intra, self.loss_cross,
                              self.loss_instance) if loss is not None
        ]
        if not losses:
            raise ValueError(
                f'{type(self).__name__}: every loss is None; set at least '
                'one of loss_intra, loss_cross, loss_instance')
        if progressive is not None:
            if self.loss_intra is None or self.loss_instance is None:
                raise ValueError(
                    f'{type(self).__name__}: progressive moves the weight '
                    'from loss_instance to loss_intra and needs both; set '
                    'progressive=None to add the losses without a schedule')
            progressive_weight(0.0, **progressive)  # check the arguments
        self.progressive = progressive
        if cross_direction not in self.CROSS_DIRECTIONS:
            raise ValueError(
                f'{type(self).__name__}: cross_direction must be one of '
                f'{self.CROSS_DIRECTIONS}, got {cross_direction!r}')
        self.cross_direction = cross_direction
        self.cross_memory_update = cross_memory_update
        self.epoch = 0.0
        self._epoch_given = False
        needs_instances = any(loss.NEEDS_INSTANCES for loss in losses)
        self.memory = CrossModalMemory(
            in_channels,
            cluster_memory=cluster_memory,
            instance_memory=instance_memory if needs_instances else None,
            aggregation=memory_aggregation)

    def _build_loss(self, cfg: Optional[dict], name: str, memory: str):
        """Build a memory loss that contrasts with ``memory`` (``'cluster'``
        or ``'instance'``), as its ``MEMORY`` attribute declares."""
        if cfg is None:
            return None
        loss = MODELS.build(cfg)
        if getattr(loss, 'MEMORY', None) != memory:
            raise TypeError(
                f'{type(self).__name__}: {name} must be a loss against the '
                f"{memory} memory (MEMORY = '{memory}', e.g. "
                + ('ClusterContrastLoss or SoftPrototypeContrastLoss'
                   if memory == 'cluster' else 'InstanceDiscriminationLoss')
                + f') or None, got {type(loss).__name__}')
        return loss

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Move the memories of an ``SPCLHead`` checkpoint (saved directly
        under the head) to ``memory.``."""
        for key in list(state_dict):
            name = key[len(prefix):]
            if key.startswith(prefix) and (
                    name in CrossModalMemory.RESIZABLE_BUFFERS
                    or name.startswith(('cluster_memories.',
                                        'instance_memory.'))):
                state_dict[f'{prefix}memory.{name}'] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------ state --
    def set_epoch(self, epoch: float) -> None:
        """Set the (fractional) training epoch λ(e) and the direction of
        the alternating cross term are computed from."""
        self.epoch = float(epoch)
        self._epoch_given = True

    @property
    def progress_weight(self) -> Optional[float]:
        """float | None: λ at the current epoch; None without a schedule."""
        if self.progressive is None:
            return None
        return progressive_weight(self.epoch, **self.progressive)

    # ----------------------------------------------------------- losses --
    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: List[DataSample],
             modality: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Losses of a batch, then the momentum update of the memories.

        Args:
            feats (Sequence[Tensor]): Pooled features, the last (B, D).
            data_samples (list[DataSample]): With ``pseudo_label`` and
                ``sample_idx``.
            modality (Tensor): Modality of every sample, (B,) long (from the
                data preprocessor).

        Returns:
            dict[str, Tensor]: ``loss_instance``, ``loss_intra``,
            ``loss_cross`` (those configured) and ``lambda`` with a schedule.
        """
        self.memory.apply_pending_update()
        _, bn = self(feats)
        queries = F.normalize(bn.float(), dim=1)
        labels, indices = self._batch_fields(data_samples, queries.device)
        self.memory.check_batch(labels, modality, indices)
        lam = self.progress_weight
        losses = {}
        if self.loss_instance is not None:
            losses['loss_instance'] = self._weighted(
                self.loss_instance, 1.0 if lam is None else 1 - lam, queries,
                lambda loss: loss(queries, indices, self.memory.
                                  instance_memory))
        banks = [self.memory.cluster_bank(m, slots=indices) for m in (RGB, IR)]
        own_labels = [
            torch.where(modality == m, labels, torch.full_like(labels, -1))
            for m in (RGB, IR)
        ]
        weight = 1.0 if lam is None else lam
        if self.loss_intra is not None:
            losses['loss_intra'] = self._weighted(
                self.loss_intra, weight, queries, lambda loss: sum(
                    loss(queries, own_labels[m], banks[m]) for m in (RGB, IR)))
        cross_labels = None
        if self.loss_cross is not None:
            # the associated cluster of the other modality of every query
            # whose cross term runs this epoch, -1 for the others
            directions = self._cross_directions()
            associated = {
                m: self.memory.associated_labels(own_labels[m], m)
                for m, _ in directions
            }
            losses['loss_cross'] = self._weighted(
                self.loss_cross, weight, queries, lambda loss: sum(
                    loss(queries, associated[m], banks[other])
                    for m, other in directions))
            if self.cross_memory_update and self._runs(
                    self.loss_cross, weight):
                cross_labels = torch.full_like(labels, -1)
                for m, labels_m in associated.items():
                    cross_labels = torch.where(modality == m, labels_m,
                                               cross_labels)
        if lam is not None:
            losses['lambda'] = queries.new_tensor(lam)
        self.memory.update_after_backward(queries, modality, labels, indices,
                                          cross_labels)
        return losses

    @staticmethod
    def _runs(loss: nn.Module, weight: float) -> bool:
        """Whether a term of weight ``weight`` is computed at all."""
        return weight != 0 and loss.loss_weight != 0

    @classmethod
    def _weighted(
            cls, loss: nn.Module, weight: float, queries: torch.Tensor,
            compute: Callable[[nn.Module], torch.Tensor]) -> torch.Tensor:
        """``weight · compute(loss)``; not computed (0) when ``weight`` or
        the loss's ``loss_weight`` is 0."""
        if not cls._runs(loss, weight):
            return queries.new_zeros(())
        return weight * compute(loss)

    def _cross_directions(self) -> Tuple[Tuple[int, int], ...]:
        """``(query modality, memory modality)`` of the cross terms of the
        current epoch."""
        if self.cross_direction == 'both':
            return ((RGB, IR), (IR, RGB))
        if not self._epoch_given:
            raise RuntimeError(
                f"{type(self).__name__}: cross_direction='alternate' follows "
                'the epoch, which ProgressiveScheduleHook hands over; add '
                "dict(type='ProgressiveScheduleHook') to custom_hooks")
        return ((IR, RGB), ) if int(self.epoch) % 2 else ((RGB, IR), )

    def _batch_fields(self, data_samples: List[DataSample],
                      device: torch.device) -> Tuple[torch.Tensor, ...]:
        """``pseudo_label`` and ``sample_idx``, each (B,)."""
        fields = []
        for key in ('pseudo_label', 'sample_idx'):
            if any(key not in sample for sample in data_samples):
                raise KeyError(
                    f'{type(self).__name__}: training data samples need '
                    f'{key!r}; pseudo_label comes from ClusteringHook (add '
                    'it to custom_hooks) and PackVIReIDInputs packs it with '
                    'sample_idx')
            fields.append(
                torch.tensor([int(sample.get(key)) for sample in data_samples],
                             dtype=torch.long,
                             device=device))
        return tuple(fields)
