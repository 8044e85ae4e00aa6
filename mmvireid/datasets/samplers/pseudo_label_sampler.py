"""Pseudo-identities x K images per modality, every cluster in each epoch."""
import logging
import math
from typing import Dict, Iterator, List, Optional, Sized, Tuple, Union

import numpy as np
from mmengine.logging import print_log

from mmvireid.registry import DATA_SAMPLERS
from mmvireid.structures import IR, MODALITY_NAMES, RGB, parse_modality
from .cross_modality_identity_sampler import (CrossModalityIdentitySampler,
                                              _sample_members)

NumPidsType = Union[int, Dict[Union[int, str], int]]


class _ModalityGroups:
    """The drawable items of one modality, grouped for the draw.

    Attributes:
        members (np.ndarray): Item indices (M,), grouped by cluster in
            ascending label order and, inside a cluster, by camera.
        starts, counts (np.ndarray): First position and size of every
            cluster in ``members``, (C,).
        block_starts, block_sizes (np.ndarray): For every position of
            ``members``, the first position and size of its camera block
            (its cluster's members of the same camera; the whole cluster
            when the draw ignores cameras), (M,).
        clustered (bool): False when the modality has no cluster: then
            ``members`` are all its items, as one group.
    """

    def __init__(self, members, labels, camids, clustered):
        self.clustered = clustered
        order = np.lexsort((camids[members], labels[members]))
        self.members = members[order]
        labels, camids = labels[self.members], camids[self.members]
        self.starts, self.counts = _runs(labels)
        block_starts, block_sizes = _runs(
            np.stack([labels, camids]).T if len(labels) else labels)
        self.block_starts = np.repeat(block_starts, block_sizes)
        self.block_sizes = np.repeat(block_sizes, block_sizes)


def _runs(keys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Start and length of every run of equal consecutive rows of
    ``keys`` (N,) or (N, k)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = np.any(keys[1:] != keys[:-1], axis=-1) if keys.ndim > 1 \
        else keys[1:] != keys[:-1]
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    return starts, np.diff(np.append(starts, len(keys)))


@DATA_SAMPLERS.register_module()
class PseudoLabelSampler(CrossModalityIdentitySampler):
    """Batches of P_rgb RGB clusters x K + P_ir IR clusters x K images, every
    cluster drawn in each epoch.

    The clustering hook labels each modality separately
    (docs/en/recipes.md §5): RGB cluster 3 and IR cluster 3 are unrelated, so
    each modality is drawn on its own. As the community's
    ``RandomMultipleGallerySampler`` (alibaba/cluster-contrast-reid,
    ``clustercontrast/utils/data/sampler.py`` L46–106) that ADCA and PGM
    use, the clusters of a modality are drawn in passes: a pass is a random
    permutation of all its clusters, and an epoch's ``iters_per_epoch``
    batches take P clusters each from consecutive passes. So every cluster
    is drawn in every epoch as long as one pass fits in it, i.e.
    ``iters_per_epoch x world_size x P >= C``; a shorter epoch draws the
    first clusters of a pass only and logs a warning naming the counts. (The
    community trains a fixed number of iterations per epoch too: its loader
    restarts the pass when it runs out, and drops the rest of the pass when
    the epoch ends.) Passes restart at every epoch: the clusters change
    with every clustering. A batch that straddles two passes, or a modality
    with fewer than P clusters, can hold a cluster twice.

    Inside a cluster the K images are drawn as the community does: an
    anchor at random, then K - 1 others; with ``camera_aware=True`` the
    others come from the cameras other than the anchor's (all others when
    the anchor's camera is the cluster's only one). The K - 1 are drawn
    without replacement when at least K candidates exist (the community's
    threshold), with replacement otherwise; a one-image cluster repeats its
    image K times. Outliers (``pseudo_label == -1``) are never drawn.

    ``cluster_draw='per_batch'`` (ours, the earlier behaviour of this
    sampler) draws instead P distinct clusters uniformly at random for every
    batch, independently of the other batches, and K distinct images of
    each (with replacement only when the cluster has fewer than K): no
    anchor, no duplicate while the cluster has K images. On the synthetic
    quick start (clusters of 3-10 images, K = 4) it trains markedly better
    than the passes (configs/spcl_id/README.md, "the sampler passes"), so
    the quick-start config uses it; every config of a released recipe uses
    the passes.

    A batch is laid out as ``[K RGB of cluster 1, ..., K RGB of cluster
    P_rgb, K IR of cluster 1', ..., K IR of cluster P_ir']``, and the
    loader's ``batch_size`` must be :attr:`batch_size` ``= (P_rgb + P_ir) *
    K``. ADCA / PGM take 8 RGB and 16 IR clusters x 16 images; with two
    views of every RGB image (:class:`ModalityViews` and
    ``multi_view_collate``) the model then sees 256 RGB and 256 IR images.

    A modality without any cluster (every image an outlier) fills its part
    of each batch with P * K random images of that modality, which only the
    instance-level losses use: training goes on with what the epoch has.

    As :class:`CrossModalityIdentitySampler` (whose checks and field reading
    this reuses): a fixed number of iterations per epoch, so MMEngine can
    size the train loop before the first clustering; labels read again at
    every ``__iter__``; randomness from ``seed`` and the epoch only; under
    DDP one global draw of ``iters_per_epoch * world_size`` batches of which
    rank r takes the batches ``r, r + world_size, ...`` (the labels must be
    the same on every rank, as :class:`ClusteringHook` makes them).

    Args:
        dataset (Sized): The training set; its items have ``modality``,
            ``camid`` (read when ``camera_aware``) and, from the first
            clustering on, ``label_key``.
        num_pids (int | dict): P, clusters per batch: one number for both
            modalities, or per modality, e.g. ``dict(rgb=8, ir=16)``.
            Defaults to 16.
        num_instances (int): K, images per cluster. Defaults to 16.
        iters_per_epoch (int, optional): Batches per rank and epoch. Defaults
            to the largest ``ceil(#images of m / (P_m * K * world_size))``
            over the modalities m.
        label_key (str): Item field of the cluster label. Defaults to
            ``'pseudo_label'``.
        seed (int, optional): Seed of the draw, the same on every rank; None
            broadcasts one drawn on rank 0. Defaults to None.
        camera_aware (bool): Draw the K - 1 companions of the anchor from
            other cameras (``RandomMultipleGallerySampler``); False draws
            them from the whole cluster (``RandomMultipleGallerySamplerNoCam``,
            ADCA / PGM's ``--no-cam``). Defaults to False.
        cluster_draw (str): ``'passes'`` (the community's, above) or
            ``'per_batch'`` (ours, above). Defaults to ``'passes'``.

    Example:
        >>> train_dataloader = dict(
        ...     batch_size=(8 + 16) * 16,  # (P_rgb + P_ir) * num_instances
        ...     sampler=dict(type='PseudoLabelSampler',
        ...                  num_pids=dict(rgb=8, ir=16), num_instances=16,
        ...                  iters_per_epoch=200, camera_aware=True),
        ...     dataset=dict(type='SYSUMM01Dataset', data_root=data_root,
        ...                  pipeline=train_pipeline))
    """

    #: Values of ``cluster_draw``.
    CLUSTER_DRAWS = ('passes', 'per_batch')

    def __init__(self,
                 dataset: Sized,
                 num_pids: NumPidsType = 16,
                 num_instances: int = 16,
                 iters_per_epoch: Optional[int] = None,
                 label_key: str = 'pseudo_label',
                 seed: Optional[int] = None,
                 camera_aware: bool = False,
                 cluster_draw: str = 'passes') -> None:
        if cluster_draw not in self.CLUSTER_DRAWS:
            raise ValueError(f'PseudoLabelSampler: cluster_draw must be one '
                             f'of {self.CLUSTER_DRAWS}, got {cluster_draw!r}')
        if cluster_draw == 'per_batch' and camera_aware:
            raise ValueError("PseudoLabelSampler: camera_aware draws "
                             "companions of an anchor, which "
                             "cluster_draw='per_batch' has not; use "
                             "cluster_draw='passes'")
        pids = self._parse_num_pids(num_pids)
        super().__init__(dataset, max(pids), num_instances, iters_per_epoch,
                         label_key, seed)
        #: (P_rgb, P_ir): clusters per batch of each modality.
        self.num_pids = pids
        self.camera_aware = bool(camera_aware)
        self.cluster_draw = cluster_draw
        sizes = [int(np.sum(self.modalities == m)) for m in (RGB, IR)]
        missing = [
            MODALITY_NAMES[m].upper() for m, size in zip((RGB, IR), sizes)
            if size == 0
        ]
        if missing:
            raise ValueError(f'PseudoLabelSampler: the dataset has no '
                             f'{" and no ".join(missing)} image; both '
                             'modalities are needed')
        if iters_per_epoch is None:
            self.iters_per_epoch = max(
                math.ceil(size /
                          (p * num_instances * self.world_size))
                for size, p in zip(sizes, pids))

    @staticmethod
    def _parse_num_pids(num_pids: NumPidsType) -> Tuple[int, int]:
        """``num_pids`` as ``(P_rgb, P_ir)``, checked."""
        if isinstance(num_pids, dict):
            parsed = {
                parse_modality(key, 'PseudoLabelSampler: a key of '
                               'num_pids'): value
                for key, value in num_pids.items()
            }
            if sorted(parsed) != [RGB, IR]:
                raise ValueError(
                    'PseudoLabelSampler: num_pids must give both '
                    f"modalities, e.g. dict(rgb=8, ir=16), got {num_pids!r}")
            pids = (parsed[RGB], parsed[IR])
        else:
            pids = (num_pids, num_pids)
        for p in pids:
            if isinstance(p, bool) or not isinstance(p, int) or p < 1:
                raise ValueError('PseudoLabelSampler: num_pids must be an '
                                 'int >= 1 or a dict of them per modality, '
                                 f'got {num_pids!r}')
        return pids

    @property
    def batch_size(self) -> int:
        """int: ``(P_rgb + P_ir) * num_instances``, the loader's batch
        size (items; an item with two views is two images of the model's
        batch)."""
        return sum(self.num_pids) * self.num_instances

    def check_batch_size(self, batch_size: int) -> None:
        """Check the data loader's ``batch_size`` against :attr:`batch_size`.

        Raises:
            ValueError: Naming both keys and the expected value.
        """
        if batch_size != self.batch_size:
            raise ValueError(
                f'train_dataloader.batch_size={batch_size} does not match '
                'its PseudoLabelSampler: (sampler.num_pids RGB '
                f'{self.num_pids[RGB]} + IR {self.num_pids[IR]}) x '
                f'sampler.num_instances ({self.num_instances}) = '
                f'{self.batch_size} items per batch (an item with two views '
                'is two images of the model\'s batch); set '
                f'train_dataloader.batch_size={self.batch_size}')

    def _groups(self) -> List[_ModalityGroups]:
        """Group the items of each modality by cluster (and camera).

        Returns:
            list[_ModalityGroups]: RGB, then IR. A modality without any
            cluster gets all its items as one unclustered group.
        """
        labels = self._read_field(self.label_key)
        if len(labels) != len(self.modalities):
            raise ValueError(
                'PseudoLabelSampler: the dataset has changed length '
                f'({len(self.modalities)} -> {len(labels)}); build a new '
                'sampler')
        camids = self._read_field('camid') if self.camera_aware \
            else np.zeros_like(labels)
        groups = []
        for modality in (RGB, IR):
            in_modality = self.modalities == modality
            members = np.flatnonzero(in_modality & (labels >= 0))
            if len(members):
                groups.append(
                    _ModalityGroups(members, labels, camids, clustered=True))
            else:
                members = np.flatnonzero(in_modality)
                groups.append(
                    _ModalityGroups(members, np.zeros_like(labels),
                                    np.zeros_like(labels), clustered=False))
        return groups

    def _passes(self, rng: np.random.Generator, modality: int,
                num_clusters: int, num_slots: int) -> np.ndarray:
        """``num_slots`` clusters from consecutive random passes over all.

        Returns:
            np.ndarray: Cluster positions, (num_slots,).
        """
        if num_slots < num_clusters:
            name = MODALITY_NAMES[modality].upper()
            pids = self.num_pids[modality]
            needed = math.ceil(num_clusters / (self.world_size * pids))
            print_log(
                f'PseudoLabelSampler: {num_clusters} {name} clusters but '
                f'an epoch draws {num_slots} (iters_per_epoch '
                f'{self.iters_per_epoch} x world size {self.world_size} x '
                f'num_pids {pids}): {num_clusters - num_slots} {name} '
                'clusters are not drawn this epoch; set iters_per_epoch >= '
                f'{needed} to draw every cluster',
                logger='current',
                level=logging.WARNING)
        num_passes = math.ceil(num_slots / num_clusters)
        keys = rng.random((num_passes, num_clusters))
        return np.argsort(keys, axis=1).ravel()[:num_slots]

    @staticmethod
    def _per_batch(rng: np.random.Generator, num_clusters: int,
                   num_batches: int, num_pids: int) -> np.ndarray:
        """P clusters for every batch, distinct when there are at least P.

        Returns:
            np.ndarray: Cluster positions, (num_batches * P,), batch by
            batch.
        """
        if num_clusters < num_pids:
            return rng.integers(num_clusters, size=num_batches * num_pids)
        keys = rng.random((num_batches, num_clusters))
        return np.argsort(keys, axis=1)[:, :num_pids].ravel()

    def _draw_instances(self, rng: np.random.Generator,
                        groups: _ModalityGroups,
                        clusters: np.ndarray) -> np.ndarray:
        """An anchor and K - 1 companions of each drawn cluster.

        Args:
            rng (np.random.Generator): The generator of the draw.
            groups (_ModalityGroups): The modality's grouped members.
            clusters (np.ndarray): Drawn cluster positions, (O,).

        Returns:
            np.ndarray: Positions into ``groups.members``, (O, K), the
            anchor first.
        """
        start, count = groups.starts[clusters], groups.counts[clusters]
        anchor = start + (rng.random(len(clusters)) * count).astype(np.int64)
        block_start = groups.block_starts[anchor]
        block_size = groups.block_sizes[anchor]
        # candidates: the other cameras' members, or else the other members
        other_cams = count - block_size
        by_camera = other_cams > 0
        pool = np.where(by_camera, other_cams, count - 1)
        num = self.num_instances - 1
        offsets = (rng.random((len(clusters), num)) *
                   pool[:, None]).astype(np.int64)
        # without replacement where at least K candidates exist
        distinct = np.flatnonzero(pool >= self.num_instances)
        if len(distinct):
            offsets[distinct] = _sample_members(
                rng, np.zeros(len(distinct), dtype=np.int64), pool[distinct],
                np.arange(len(distinct)), num)
        positions = start[:, None] + offsets
        # skip the anchor's camera block, or the anchor itself
        skip_from = np.where(by_camera, block_start, anchor)[:, None]
        skip_size = np.where(by_camera, block_size, 1)[:, None]
        positions += np.where(positions >= skip_from, skip_size, 0)
        positions[pool == 0] = anchor[pool == 0, None]  # one-image clusters
        return np.concatenate([anchor[:, None], positions], axis=1)

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices, ``iters_per_epoch`` batches in a row."""
        groups = self._groups()
        rng = np.random.default_rng((self.seed, self.epoch))
        num_batches = self.iters_per_epoch * self.world_size
        parts = []  # (num_batches, P_m * K): RGB, then IR
        for modality, group in zip((RGB, IR), groups):
            num_slots = num_batches * self.num_pids[modality]
            if group.clustered and self.cluster_draw == 'per_batch':
                clusters = self._per_batch(rng, len(group.counts),
                                           num_batches,
                                           self.num_pids[modality])
                positions = _sample_members(rng, group.starts, group.counts,
                                            clusters, self.num_instances)
            elif group.clustered:
                clusters = self._passes(rng, modality, len(group.counts),
                                        num_slots)
                positions = self._draw_instances(rng, group, clusters)
            else:
                # P * K distinct random images of the modality (with
                # replacement if it has fewer)
                positions = _sample_members(
                    rng, group.starts, group.counts,
                    np.zeros(num_batches, dtype=np.int64),
                    self.num_pids[modality] * self.num_instances)
            parts.append(group.members[positions].reshape(num_batches, -1))
        batches = np.concatenate(parts, axis=1)[self.rank::self.world_size]
        return iter(batches.ravel().tolist())
