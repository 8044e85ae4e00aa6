"""The memory of unsupervised VI-ReID: the clusters of both modalities,
their association, the instances and the pseudo-labels."""
import functools
from typing import List, Optional, Tuple

import torch
from mmengine import dist
from torch import nn

from mmvireid.clustering import association_mappings, cluster_centroids
from mmvireid.registry import MODELS
from mmvireid.structures import IR, MODALITY_NAMES, RGB
from ..utils import all_gather_batch, resize_buffers
from ..utils.precision import float32_forward
from .base_memory import BaseMemory
from .cluster_bank import ClusterBank
from .cluster_memory import ClusterMemory
from .instance_memory import InstanceMemory
from .soft_prototype_index import SoftPrototypeIndex


class CrossModalMemory(nn.Module):
    """Cluster memories per modality, their association, the instance
    memory and the pseudo-label state of unsupervised VI-ReID.

    It owns (all buffers, saved in the model's state dict once, resized to
    the saved length when loaded):

    - ``cluster_memories``: a :class:`ClusterMemory` per modality (index
      ``RGB`` = 0, ``IR`` = 1), one prototype per pseudo-label cluster; RGB
      and IR images are clustered separately, in their own label spaces.
    - ``instance_memory``: an :class:`InstanceMemory`, one slot per training
      image, when a loss needs it (else None).
    - ``pseudo_labels`` ``(N,)`` and ``modalities`` ``(N,)``: the cluster of
      every training image in its modality's label space (-1 = outlier) and
      its modality, in dataset order. The clustering hook relabels the
      training set from them on resume.
    - ``rgb_to_ir`` ``(C_rgb,)`` and ``ir_to_rgb`` ``(C_ir,)``: the
      associated cluster of the other modality, -1 when unmatched
      (:func:`association_mappings` of the clustering's pairs: one-to-one,
      or many-to-one as PGM's).

    :meth:`reset` rebuilds everything from a clustering (rank 0's on every
    rank), :meth:`update` moves the memories with a batch after each step
    (:meth:`gather_batch` then :meth:`apply_update`, in place),
    :meth:`cluster_bank` is what the losses read, and :meth:`check_batch`
    checks a batch's labels against the memory once per step.

    The soft prototypes of every cluster (with an instance memory) are kept
    current by a :class:`SoftPrototypeIndex` per modality: after a step only
    the clusters whose centroid or member slots moved are reselected, which
    gives the selection from scratch at a fraction of its cost. The
    pseudo-labels change only with the memories (:meth:`reset`, a loaded
    state dict).

    Args:
        feat_dim (int): Feature dimension ``D``.
        cluster_memory (dict): Config of the two :class:`ClusterMemory`
            (``feat_dim`` is set here). Defaults to momentum 0.1,
            temperature 0.05, ``mode='mean'``.
        instance_memory (dict, optional): Config of the
            :class:`InstanceMemory`; None builds none. Defaults to None.
        aggregation (float, optional): ADCA's cross-modality memory
            aggregation: after every :meth:`reset`, each RGB prototype with
            an associated IR cluster becomes ``λ·m_rgb + (1 − λ)·m_ir``,
            ``λ = aggregation``, not renormalised (yangbincv/ADCA
            ``adca_sysu_train.py`` L832–849, λ = 0.1; the IR prototypes stay
            as they are). None leaves the prototypes alone. Defaults to
            None.

    Example:
        >>> memory = CrossModalMemory(
        ...     2048, cluster_memory=dict(type='ClusterMemory', mode='hard'),
        ...     instance_memory=dict(type='InstanceMemory', momentum=0.1))
        >>> memory.reset(features, pseudo_labels, modalities, pairs)
        >>> rgb_bank = memory.cluster_bank(RGB)   # read by the losses
        >>> memory.update(queries, modality, labels, sample_indices)
    """

    #: Buffers whose length changes with the clustering (resized on load).
    RESIZABLE_BUFFERS = ('pseudo_labels', 'modalities', 'rgb_to_ir',
                         'ir_to_rgb')

    def __init__(self,
                 feat_dim: int,
                 cluster_memory: dict = dict(
                     type='ClusterMemory',
                     momentum=0.1,
                     temperature=0.05,
                     mode='mean'),
                 instance_memory: Optional[dict] = None,
                 aggregation: Optional[float] = None):
        super().__init__()
        if aggregation is not None and not 0.0 <= aggregation <= 1.0:
            raise ValueError('CrossModalMemory: aggregation must be None or '
                             f'in [0, 1], got {aggregation!r}')
        self.aggregation = aggregation
        self.feat_dim = feat_dim
        self.cluster_memories = nn.ModuleList(
            self._build(cluster_memory, ClusterMemory) for _ in (RGB, IR))
        self.instance_memory = None if instance_memory is None else \
            self._build(instance_memory, InstanceMemory)
        for name in self.RESIZABLE_BUFFERS:
            self.register_buffer(name, torch.zeros(0, dtype=torch.long))
        # the soft prototypes of each modality, kept current; None: rebuilt
        # at the next use
        self._prototype_index: List[Optional[SoftPrototypeIndex]] = [
            None, None
        ]
        # the gathered batch of a step, until its backward pass has run
        self._pending_update: Optional[Tuple[torch.Tensor, ...]] = None

    def _build(self, cfg: dict, kind: type) -> nn.Module:
        memory = MODELS.build(dict(cfg, feat_dim=self.feat_dim))
        if not isinstance(memory, kind):
            raise TypeError(f'CrossModalMemory: expected a {kind.__name__} '
                            f'config, got {type(memory).__name__}')
        return memory

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        resize_buffers(self, state_dict, prefix, self.RESIZABLE_BUFFERS)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _memories(self) -> List[BaseMemory]:
        """The cluster memories and the instance memory, if any."""
        return list(self.cluster_memories) + (
            [] if self.instance_memory is None else [self.instance_memory])

    def num_clusters(self, modality: int) -> int:
        """int: Clusters in the memory of ``modality``."""
        return len(self.cluster_memories[modality])

    # ------------------------------------------------------------ reset --
    @torch.no_grad()
    def reset(self,
              features: torch.Tensor,
              pseudo_labels: Optional[torch.Tensor],
              modalities: torch.Tensor,
              pairs: Optional[torch.Tensor],
              src: int = 0) -> None:
        """Rebuild the memories from a clustering, the same on every rank.

        Rank ``src``'s ``pseudo_labels`` and ``pairs`` are broadcast to every
        rank (the others may pass None): only one rank clusters. Each cluster
        memory becomes the L2-normalised cluster means of its modality
        (``(0, D)`` when that modality has no cluster), the instance memory
        the features themselves; the RGB prototypes are blended with their
        associated IR ones when ``aggregation`` is set; then every memory
        bank is broadcast from rank ``src``, so the ranks hold
        bit-identical memories.

        Args:
            features (Tensor): L2-normalised features of every training
                image, in dataset order, shape (N, D); the same on every
                rank.
            pseudo_labels (Tensor | np.ndarray | None): Cluster of each
                image in its modality's label space ``0..C_m-1``, -1 for
                outliers, shape (N,).
            modalities (Tensor | np.ndarray): ``modality`` of each image,
                shape (N,).
            pairs (Tensor | np.ndarray | None): Associated clusters, rows
                ``[rgb_label, ir_label]`` in priority order (a cluster in
                several pairs takes the partner of its first), shape (P, 2).
            src (int): The rank whose clustering is kept. Defaults to 0.
        """
        self._pending_update = None  # a batch of the former clustering
        clustering = [pseudo_labels, pairs]
        if dist.get_rank() == src and any(v is None for v in clustering):
            raise ValueError(f'CrossModalMemory.reset: rank {src} clusters '
                             'and must give pseudo_labels and pairs')
        if dist.get_world_size() > 1:
            if dist.get_rank() == src:
                clustering = [torch.as_tensor(v).cpu() for v in clustering]
            dist.broadcast_object_list(clustering, src=src)
        device = self.pseudo_labels.device
        features = torch.as_tensor(features).to(device, torch.float32)
        pseudo_labels, modalities, pairs = (
            torch.as_tensor(value).to(device, torch.long)
            for value in (clustering[0], modalities, clustering[1]))
        pairs = pairs.reshape(-1, 2)
        self._check_clustering(features, pseudo_labels, modalities)
        for modality, memory in zip((RGB, IR), self.cluster_memories):
            members = modalities == modality
            memory.reset(
                cluster_centroids(features[members], pseudo_labels[members])
                if bool(members.any()) else features.new_zeros(
                    0, self.feat_dim))
        self._check_pairs(pairs)
        self.rgb_to_ir, self.ir_to_rgb = association_mappings(
            pairs, self.num_clusters(RGB), self.num_clusters(IR))
        if self.aggregation is not None:
            self._aggregate()
        self.pseudo_labels, self.modalities = pseudo_labels, modalities
        if self.instance_memory is not None:
            self.instance_memory.reset(features)
        if dist.get_world_size() > 1:
            for memory in self._memories():
                dist.broadcast(memory.features, src=src)

    def _aggregate(self) -> None:
        """ADCA's aggregation of each RGB prototype with its associated IR
        prototype (see ``aggregation``)."""
        rgb, ir = (memory.features for memory in self.cluster_memories)
        matched = torch.nonzero(self.rgb_to_ir >= 0).flatten()
        blended = rgb.clone()
        blended[matched] = self.aggregation * rgb[matched] + (
            1 - self.aggregation) * ir[self.rgb_to_ir[matched]]
        self.cluster_memories[RGB].features = blended

    def _check_clustering(self, features: torch.Tensor,
                          pseudo_labels: torch.Tensor,
                          modalities: torch.Tensor) -> None:
        num = features.shape[0]
        if features.dim() != 2 or features.shape[1] != self.feat_dim \
                or pseudo_labels.shape != (num, ) \
                or modalities.shape != (num, ):
            raise ValueError(
                'CrossModalMemory.reset: expected features (N, '
                f'{self.feat_dim}), pseudo_labels (N,), modalities (N,); '
                f'got {tuple(features.shape)}, {tuple(pseudo_labels.shape)},'
                f' {tuple(modalities.shape)}')
        if bool(((modalities != RGB) & (modalities != IR)).any()):
            raise ValueError('CrossModalMemory.reset: modalities must be '
                             f'{RGB} (RGB) or {IR} (IR)')

    def _check_pairs(self, pairs: torch.Tensor) -> None:
        for modality in (RGB, IR):
            column = pairs[:, modality]
            if column.numel() and (int(column.min()) < 0 or int(
                    column.max()) >= self.num_clusters(modality)):
                raise ValueError(
                    'CrossModalMemory.reset: pairs column '
                    f'{modality} ({MODALITY_NAMES[modality]}) must hold '
                    f'clusters in [0, {self.num_clusters(modality)}), got '
                    f'values in [{int(column.min())}, {int(column.max())}]')

    # ------------------------------------------------------------ steps --
    def check_batch(self, labels: torch.Tensor, modality: torch.Tensor,
                    indices: torch.Tensor) -> None:
        """Raise unless a batch fits the memory, with one host sync.

        The losses and the memory updates of the step take these labels as
        given (each check of theirs would cost host syncs).

        Args:
            labels (Tensor): ``pseudo_label`` of every sample in its
                modality's label space, -1 for outliers, (B,).
            modality (Tensor): ``modality`` of every sample, (B,).
            indices (Tensor): ``sample_idx`` (instance slot) of every
                sample, (B,).
        """
        num = labels.shape[0]
        if labels.shape != (num, ) or modality.shape != (num, ) \
                or indices.shape != (num, ):
            raise ValueError(
                'CrossModalMemory: expected pseudo_label, modality and '
                'sample_idx of shape (B,), got '
                f'{tuple(labels.shape)}, {tuple(modality.shape)}, '
                f'{tuple(indices.shape)}')
        sizes = labels.new_tensor(
            [self.num_clusters(RGB), self.num_clusters(IR)])
        bad = (labels < -1) | (labels >= sizes[modality])
        if self.instance_memory is not None:
            slots = len(self.instance_memory)
            bad = bad | (indices < 0) | (indices >= slots)
        if not bool(bad.any()):
            return
        first = int(torch.nonzero(bad)[0])
        name = MODALITY_NAMES[int(modality[first])]
        raise ValueError(
            f'CrossModalMemory: sample {int(indices[first])} ({name}) has '
            f'pseudo_label {int(labels[first])}; expected -1 or a {name} '
            f'cluster in [0, {int(sizes[modality[first]])})' +
            ('' if self.instance_memory is None else
             f' and a sample_idx in [0, {len(self.instance_memory)})') +
            '. The pseudo-labels of the training set must be those of the '
            'last clustering (ClusteringHook sets both).')

    def cluster_bank(self,
                     modality: int,
                     slots: Optional[torch.Tensor] = None) -> ClusterBank:
        """The cluster memory of ``modality`` as the losses read it, with
        the instance memory and the current soft prototypes when there is
        one.

        Args:
            modality (int): ``RGB`` or ``IR``.
            slots (Tensor, optional): Instance slot (``sample_idx``) of
                every query of the batch, (B,): a query's own slot is never
                one of its soft prototypes. Defaults to None.
        """
        memory = self.cluster_memories[modality]
        if self.instance_memory is None:
            return ClusterBank(memory.features, memory.temperature)
        return ClusterBank(
            memory.features,
            memory.temperature,
            self.instance_memory.features,
            slots=slots,
            prototype_indices=functools.partial(self._prototype_indices,
                                                modality))

    def members(self, modality: int) -> torch.Tensor:
        """Cluster of every training image in the label space of
        ``modality``, -1 for its outliers and for the other modality's
        images, (N,)."""
        return torch.where(self.modalities == modality, self.pseudo_labels,
                           torch.full_like(self.pseudo_labels, -1))

    def _prototype_indices(self, modality: int, num: int) -> torch.Tensor:
        """The ``num`` members of every cluster of ``modality`` nearest its
        centroid, (C, num), -1 where missing."""
        self._follow_updates()
        index = self._prototype_index[modality]
        if index is None:
            index = SoftPrototypeIndex(self.members(modality),
                                       self.num_clusters(modality))
            self._prototype_index[modality] = index
        return index.indices(num, self.cluster_memories[modality].features,
                             self.instance_memory.features)

    def _follow_updates(self) -> None:
        """Flag the clusters the memory updates since the last call moved
        (their centroid, or a member's slot); start over after any other
        change of the memories."""
        updated = [memory.pop_updated_keys() for memory in self._memories()]
        if any(keys is None for keys in updated):
            self._prototype_index = [None, None]
            return
        slots = updated[-1]
        for modality in (RGB, IR):
            index = self._prototype_index[modality]
            if index is None:
                continue
            index.mark(updated[modality])
            moved = self.pseudo_labels[slots]
            index.mark(moved[(self.modalities[slots] == modality)
                             & (moved >= 0)])

    def associated_labels(self, labels: torch.Tensor,
                          modality: int) -> torch.Tensor:
        """Translate labels of ``modality`` into the associated clusters of
        the other modality.

        Args:
            labels (Tensor): Clusters of ``modality``, -1 for outliers and
                for queries of the other modality, (B,) (checked by
                :meth:`check_batch`).
            modality (int): The modality of the labels.

        Returns:
            Tensor: (B,) clusters of the other modality, -1 for outliers
            and for unmatched clusters (the loss skips them).
        """
        mapping = self.rgb_to_ir if modality == RGB else self.ir_to_rgb
        if mapping.numel() == 0:  # no cluster in this modality
            return torch.full_like(labels, -1)
        mapped = mapping[labels.clamp(min=0)]
        return torch.where(labels >= 0, mapped, torch.full_like(labels, -1))

    @torch.no_grad()
    def update(self,
               queries: torch.Tensor,
               modality: torch.Tensor,
               labels: torch.Tensor,
               indices: torch.Tensor,
               cross_labels: Optional[torch.Tensor] = None) -> None:
        """Momentum-update every memory with a batch checked by
        :meth:`check_batch`, gathered from every rank (in rank order, so the
        ranks stay identical): :meth:`gather_batch`, then
        :meth:`apply_update`.

        With ``cross_labels`` (PGM's cross term), each cluster memory is
        first updated with the other modality's queries at their associated
        clusters, then with its own modality's queries: PGM's backward pass
        runs the cross call's memory update before the within-modality ones
        (zesenwu23/USL-VI-ReID ``clustercontrast/trainers.py`` L76–103, the
        update in ``models/cm.py`` L20–32 and L50–71).

        Args:
            queries (Tensor): L2-normalised features of this rank, (B, D).
            modality (Tensor): Modality of every sample, (B,).
            labels (Tensor): Its pseudo-label, (B,).
            indices (Tensor): Its instance slot, (B,).
            cross_labels (Tensor, optional): The associated cluster of the
                other modality of every sample, -1 for none (samples whose
                cross term did not run), (B,). Defaults to None.
        """
        self.apply_update(*self.gather_batch(queries, modality, labels,
                                             indices, cross_labels))

    def update_after_backward(
            self,
            queries: torch.Tensor,
            modality: torch.Tensor,
            labels: torch.Tensor,
            indices: torch.Tensor,
            cross_labels: Optional[torch.Tensor] = None) -> None:
        """:meth:`update` with a step's queries once its backward pass has
        computed their gradient.

        The batch is gathered now (a collective of the forward pass, on
        every rank); the update is applied by a gradient hook on
        ``queries``: when it runs, every loss node that saved a memory bank
        for its backward has run, so the banks are written in place. When
        ``queries`` needs no gradient the update is applied at once; when a
        backward pass never reaches them, at :meth:`apply_pending_update`
        (the start of the next step). :meth:`reset` drops an update still
        pending.

        Args:
            queries (Tensor): L2-normalised features of this rank, (B, D),
                attached to the losses of the step.
            modality (Tensor): Modality of every sample, (B,).
            labels (Tensor): Its pseudo-label, (B,).
            indices (Tensor): Its instance slot, (B,).
            cross_labels (Tensor, optional): See :meth:`update`. Defaults
                to None.
        """
        self.apply_pending_update()
        self._pending_update = self.gather_batch(queries, modality, labels,
                                                 indices, cross_labels)
        if queries.requires_grad:
            queries.register_hook(self.apply_pending_update)
        else:
            self.apply_pending_update()

    def apply_pending_update(self,
                             grad: Optional[torch.Tensor] = None) -> None:
        """Apply the update :meth:`update_after_backward` holds, if any (as
        a gradient hook, ``grad`` is left unchanged)."""
        if self._pending_update is not None:
            batch, self._pending_update = self._pending_update, None
            self.apply_update(*batch)

    @staticmethod
    @torch.no_grad()
    def gather_batch(
        queries: torch.Tensor,
        modality: torch.Tensor,
        labels: torch.Tensor,
        indices: torch.Tensor,
        cross_labels: Optional[torch.Tensor] = None
    ) -> Tuple[Optional[torch.Tensor], ...]:
        """Every rank's batch, in rank order (one process: this one's).

        Returns:
            tuple[Tensor, ...]: ``queries`` (ΣB, D) detached, ``modality``,
            ``labels``, ``indices`` and ``cross_labels`` (ΣB,; None when
            not given), the arguments of :meth:`apply_update`.
        """
        cross = () if cross_labels is None else (cross_labels, )
        gathered = all_gather_batch(queries.detach(), modality, labels,
                                    indices, *cross)
        return tuple(gathered) + ((None, ) if cross_labels is None else ())

    @torch.no_grad()
    @float32_forward
    def apply_update(self,
                     queries: torch.Tensor,
                     modality: torch.Tensor,
                     labels: torch.Tensor,
                     indices: torch.Tensor,
                     cross_labels: Optional[torch.Tensor] = None) -> None:
        """Momentum-update every memory in place with a gathered batch
        (:meth:`gather_batch`), in float32; with ``cross_labels`` the cross
        update first (see :meth:`update`).

        Args:
            queries (Tensor): L2-normalised features of every rank, (ΣB, D).
            modality (Tensor): Modality of every sample, (ΣB,).
            labels (Tensor): Its pseudo-label, (ΣB,).
            indices (Tensor): Its instance slot, (ΣB,).
            cross_labels (Tensor, optional): The associated cluster of the
                other modality, -1 for none, (ΣB,). Defaults to None.
        """
        none = torch.full_like(labels, -1)
        for memory_modality, memory in zip((RGB, IR), self.cluster_memories):
            if cross_labels is not None:
                memory.apply_update(
                    queries,
                    torch.where(modality != memory_modality, cross_labels,
                                none))
            memory.apply_update(
                queries, torch.where(modality == memory_modality, labels,
                                     none))
        if self.instance_memory is not None:
            self.instance_memory.apply_update(queries, indices)
