"""Memory-based head of unsupervised VI-ReID: cluster contrast and SPCL-ID."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvireid.clustering import cluster_centroids
from mmvireid.structures import IR, RGB
from mmvireid.registry import MODELS
from ..losses import (ClusterContrastLoss, InstanceDiscriminationLoss,
                      SoftPrototypeContrastLoss, associated_labels)
from ..memories import ClusterMemory, InstanceMemory
from ..utils import progressive_weight, resize_buffers
from .bnneck_head import BNNeckHead

#: Losses that contrast a query with a cluster memory.
CLUSTER_LOSSES = (ClusterContrastLoss, SoftPrototypeContrastLoss)


@MODELS.register_module()
class SPCLHead(BNNeckHead):
    r"""BN-neck head with cluster and instance memories (methods.md 5, 6).

    The query ``q`` is the L2-normalised BN-neck output. The head owns a
    :class:`ClusterMemory` per modality (one prototype per pseudo-label
    cluster; RGB and IR are clustered separately), the Hungarian association
    of RGB and IR clusters and, when a loss needs it, an
    :class:`InstanceMemory` (one slot per training image) with the
    pseudo-label and modality of every slot. :class:`ClusteringHook` rebuilds
    them every epoch with :meth:`reset_memories`; after every step the
    memories are momentum-updated with the (all-gathered) batch.

    Losses, each switched off with ``None``:

    - ``loss_intra``: a query against its modality's cluster memory;
      :class:`ClusterContrastLoss` (the ADCA / PGM baseline) or
      :class:`SoftPrototypeContrastLoss` (SPCL-ID; ``soft_weighting=False``
      and ``alpha=1`` are its ablations).
    - ``loss_cross``: the same kinds of loss against the OTHER modality's
      memory, the positive being the cluster associated with the query's
      own; queries of unmatched clusters are skipped. Its ``loss_weight`` is
      ``λ_cm``.
    - ``loss_instance``: :class:`InstanceDiscriminationLoss` against the
      instance memory, the query's own slot (``sample_idx``) the positive.

    The modality terms are summed (each the mean over its labelled queries).
    With ``progressive`` (keyword arguments of :func:`progressive_weight`),
    ``L = (1 − λ(e))·L_ins + λ(e)·L_intra + λ(e)·L_cross`` (so
    ``λ_cm(e) = λ_cm·λ(e)``: the association is only trusted as much as the
    clusters), ``e`` the epoch that :class:`ProgressiveScheduleHook` hands
    over with :meth:`set_epoch`; λ is logged as ``lambda``. Without it the
    three terms are simply added.

    Losses are logged as ``loss_instance``, ``loss_intra``, ``loss_cross``,
    already weighted. A modality whose clustering found no cluster has an
    empty memory; its queries are outliers (label -1) and only the instance
    loss uses them.

    Args:
        in_channels (int): Feature dimension D. Defaults to 2048.
        cluster_memory (dict): Config of the two :class:`ClusterMemory`
            (``feat_dim`` is set here). Defaults to momentum 0.1,
            temperature 0.05, ``mode='mean'``.
        instance_memory (dict): Config of the :class:`InstanceMemory`, built
            only when ``loss_instance`` or a soft prototype loss is set.
            Defaults to momentum 0.1.
        loss_intra (dict, optional): Within-modality cluster loss.
        loss_cross (dict, optional): Cross-modality cluster loss.
        loss_instance (dict, optional): Instance discrimination loss.
        progressive (dict, optional): ``ramp_epochs``, ``mode``, ``start``,
            ``end`` of λ; needs ``loss_intra`` and ``loss_instance``.
        test_feature (str): ``'bn'``, ``'pool'`` or ``'concat'``, as
            :class:`BNNeckHead`. Defaults to ``'bn'``.

    Shapes:
        - inputs: a tuple of (B, D) pooled features (the last one is used).
        - data samples (training): ``modality``, ``pseudo_label`` and
          ``sample_idx`` metainfo (packed by ``PackVIReIDInputs``).
        - ``predict``: (B, D), or (B, 2D) for ``'concat'``.

    Example:
        >>> head = dict(
        ...     type='SPCLHead', in_channels=2048,
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

    #: Buffers whose length changes with the clustering (resized on load).
    RESIZABLE_BUFFERS = ('pseudo_labels', 'modalities', 'rgb_to_ir',
                         'ir_to_rgb')

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
                 test_feature: str = 'bn',
                 init_cfg: Optional[dict] = None):
        super().__init__(
            in_channels=in_channels,
            loss_id=None,
            loss_triplet=None,
            test_feature=test_feature,
            init_cfg=init_cfg)
        self.loss_intra = self._build_loss(loss_intra, CLUSTER_LOSSES,
                                           'loss_intra')
        self.loss_cross = self._build_loss(loss_cross, CLUSTER_LOSSES,
                                           'loss_cross')
        self.loss_instance = self._build_loss(loss_instance,
                                              (InstanceDiscriminationLoss, ),
                                              'loss_instance')
        if not any((self.loss_intra, self.loss_cross, self.loss_instance)):
            raise ValueError('SPCLHead: every loss is None; set at least one '
                             'of loss_intra, loss_cross, loss_instance')
        if progressive is not None:
            if self.loss_intra is None or self.loss_instance is None:
                raise ValueError(
                    'SPCLHead: progressive moves the weight from '
                    'loss_instance to loss_intra and needs both; set '
                    'progressive=None to add the losses without a schedule')
            progressive_weight(0.0, **progressive)  # check the arguments
        self.progressive = progressive
        self.epoch = 0.0

        self.cluster_memories = torch.nn.ModuleList(
            self._build_memory(cluster_memory, ClusterMemory)
            for _ in (RGB, IR))
        needs_instances = self.loss_instance is not None or any(
            isinstance(loss, SoftPrototypeContrastLoss)
            for loss in (self.loss_intra, self.loss_cross))
        self.instance_memory = self._build_memory(
            instance_memory, InstanceMemory) if needs_instances else None
        self.register_buffer('pseudo_labels', torch.zeros(0,
                                                          dtype=torch.long))
        self.register_buffer('modalities', torch.zeros(0, dtype=torch.long))
        self.register_buffer('rgb_to_ir', torch.zeros(0, dtype=torch.long))
        self.register_buffer('ir_to_rgb', torch.zeros(0, dtype=torch.long))

    @staticmethod
    def _build_loss(cfg: Optional[dict], kinds: tuple, name: str):
        if cfg is None:
            return None
        loss = MODELS.build(cfg)
        if not isinstance(loss, kinds):
            raise TypeError(
                f'SPCLHead: {name} must be one of '
                f'{[kind.__name__ for kind in kinds]} or None, got '
                f'{type(loss).__name__}')
        return loss

    def _build_memory(self, cfg: dict, kind: type):
        memory = MODELS.build(dict(cfg, feat_dim=self.in_channels))
        if not isinstance(memory, kind):
            raise TypeError(f'SPCLHead: expected a {kind.__name__} config, '
                            f'got {type(memory).__name__}')
        return memory

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        resize_buffers(self, state_dict, prefix, self.RESIZABLE_BUFFERS)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------ state --
    def set_epoch(self, epoch: float) -> None:
        """Set the (fractional) training epoch λ(e) is computed from."""
        self.epoch = float(epoch)

    @property
    def progress_weight(self) -> Optional[float]:
        """float | None: λ at the current epoch; None without a schedule."""
        if self.progressive is None:
            return None
        return progressive_weight(self.epoch, **self.progressive)

    def num_clusters(self, modality: int) -> int:
        """int: Clusters in the memory of ``modality``."""
        return len(self.cluster_memories[modality])

    @torch.no_grad()
    def reset_memories(self, features: torch.Tensor,
                       pseudo_labels: torch.Tensor, modalities: torch.Tensor,
                       pairs: torch.Tensor) -> None:
        """Rebuild the memories from a new clustering.

        Each cluster memory becomes the L2-normalised cluster means of its
        modality (``(0, D)`` when that modality has no cluster), the instance
        memory the features themselves.

        Args:
            features (Tensor): L2-normalised features of every training
                image, in dataset order, shape (N, D).
            pseudo_labels (Tensor): Cluster of each image in its modality's
                label space ``0..C_m-1``, -1 for outliers, shape (N,).
            modalities (Tensor): ``modality`` of each image, shape (N,).
            pairs (Tensor): Associated clusters, rows ``[rgb_label,
                ir_label]``, shape (P, 2).
        """
        device = self.rgb_to_ir.device
        features = torch.as_tensor(features).to(device, torch.float32)
        pseudo_labels = torch.as_tensor(pseudo_labels).to(device, torch.long)
        modalities = torch.as_tensor(modalities).to(device, torch.long)
        pairs = torch.as_tensor(pairs).to(device, torch.long).reshape(-1, 2)
        num = features.shape[0]
        if features.dim() != 2 or features.shape[1] != self.in_channels \
                or pseudo_labels.shape != (num, ) \
                or modalities.shape != (num, ):
            raise ValueError(
                'SPCLHead.reset_memories: expected features (N, '
                f'{self.in_channels}), pseudo_labels (N,), modalities (N,); '
                f'got {tuple(features.shape)}, {tuple(pseudo_labels.shape)},'
                f' {tuple(modalities.shape)}')
        for modality, memory in zip((RGB, IR), self.cluster_memories):
            members = modalities == modality
            memory.reset(
                cluster_centroids(features[members], pseudo_labels[members])
                if bool(members.any()) else features.new_zeros(
                    0, self.in_channels))
        mappings = []
        # pairs hold the RGB label in column RGB (0), the IR one in IR (1)
        for modality, other in ((RGB, IR), (IR, RGB)):
            mapping = pairs.new_full((self.num_clusters(modality), ), -1)
            if pairs.numel():
                mapping[pairs[:, modality]] = pairs[:, other]
            mappings.append(mapping)
        self.rgb_to_ir, self.ir_to_rgb = mappings
        self.pseudo_labels, self.modalities = pseudo_labels, modalities
        if self.instance_memory is not None:
            self.instance_memory.reset(features)

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
        _, bn = self(feats)
        queries = F.normalize(bn, dim=1)
        labels, indices = self._batch_fields(data_samples, queries.device)
        lam = self.progress_weight
        prototypes = {}
        losses = {}
        if self.loss_instance is not None:
            loss = self.loss_instance(queries, self.instance_memory.features,
                                      indices)
            losses['loss_instance'] = loss if lam is None else (1 - lam) * loss
        for name, loss_module, cross in (('loss_intra', self.loss_intra,
                                          False), ('loss_cross',
                                                   self.loss_cross, True)):
            if loss_module is None:
                continue
            loss = sum(
                self._cluster_loss(loss_module, queries, labels, modality ==
                                   query_modality, query_modality, cross,
                                   prototypes)
                for query_modality in (RGB, IR))
            losses[name] = loss if lam is None else lam * loss
        if lam is not None:
            losses['lambda'] = queries.new_tensor(lam)
        self._update_memories(queries.detach(), modality, labels, indices)
        return losses

    def _batch_fields(self, data_samples: List[DataSample],
                      device: torch.device) -> Tuple[torch.Tensor, ...]:
        """``pseudo_label`` and ``sample_idx``, each (B,)."""
        fields = []
        for key in ('pseudo_label', 'sample_idx'):
            if any(key not in sample for sample in data_samples):
                raise KeyError(
                    f'SPCLHead: training data samples need {key!r}; '
                    'pseudo_label comes from ClusteringHook (add it to '
                    'custom_hooks) and PackVIReIDInputs packs it with '
                    'modality and sample_idx')
            fields.append(
                torch.tensor([int(sample.get(key)) for sample in data_samples],
                             dtype=torch.long,
                             device=device))
        return tuple(fields)

    def _cluster_loss(self, loss_module, queries: torch.Tensor,
                      labels: torch.Tensor, selected: torch.Tensor,
                      query_modality: int, cross: bool,
                      prototypes: dict) -> torch.Tensor:
        """One modality's term of ``loss_intra`` or ``loss_cross``.

        The queries of ``query_modality`` (``selected``, (B,) bool) keep
        their labels, every other query is -1, so the loss averages over the
        labelled queries of that modality only. ``prototypes`` caches the
        soft prototypes of each (memory, n) for the step.
        """
        labels = torch.where(selected, labels, torch.full_like(labels, -1))
        memory_modality = query_modality
        if cross:
            memory_modality = IR if query_modality == RGB else RGB
            mapping = self.rgb_to_ir if query_modality == RGB else \
                self.ir_to_rgb
            if mapping.numel() == 0:
                # no cluster in the query modality: nothing is associated
                labels = torch.full_like(labels, -1)
            else:
                labels = associated_labels(labels, mapping)
        memory = self.cluster_memories[memory_modality]
        if isinstance(loss_module, ClusterContrastLoss):
            return loss_module(memory.logits(queries), labels)
        key = (memory_modality, loss_module.num_soft_prototypes)
        if key not in prototypes:
            members = torch.where(self.modalities == memory_modality,
                                  self.pseudo_labels,
                                  torch.full_like(self.pseudo_labels, -1))
            prototypes[key] = loss_module.select_prototypes(
                memory.features, self.instance_memory.features, members)
        return loss_module(queries, labels, memory.features, *prototypes[key])

    @torch.no_grad()
    def _update_memories(self, queries: torch.Tensor, modality: torch.Tensor,
                         labels: torch.Tensor, indices: torch.Tensor) -> None:
        """Momentum update with the batch, in the same order on every rank
        (each update all-gathers the ranks' batches)."""
        for memory_modality, memory in zip((RGB, IR), self.cluster_memories):
            memory.update(
                queries,
                torch.where(modality == memory_modality, labels,
                            torch.full_like(labels, -1)))
        if self.instance_memory is not None:
            self.instance_memory.update(queries, indices)
