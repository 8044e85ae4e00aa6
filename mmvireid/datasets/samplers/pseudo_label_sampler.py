"""P pseudo-identities x K images per modality, for unsupervised training."""
from typing import Iterator, List, Optional, Sized, Tuple

import numpy as np

from mmvireid.registry import DATA_SAMPLERS
from ..base_vireid_dataset import IR, RGB
from .cross_modality_identity_sampler import (CrossModalityIdentitySampler,
                                              _sample_members)


@DATA_SAMPLERS.register_module()
class PseudoLabelSampler(CrossModalityIdentitySampler):
    """Batches of P RGB clusters x K images + P IR clusters x K images.

    The clustering hook labels each modality separately (methods.md section
    5): RGB cluster 3 and IR cluster 3 are unrelated. So every batch draws
    ``num_pids`` (P) distinct clusters among the RGB clusters and, on its
    own, P among the IR clusters, then ``num_instances`` (K) images of each
    cluster, without replacement unless the cluster is smaller than K.
    Outliers (``pseudo_label == -1``) are never drawn. A batch is laid out as
    ``[K RGB of cluster 1, ..., K RGB of cluster P, K IR of cluster 1', ...,
    K IR of cluster P']`` and the loader's ``batch_size`` must be
    :attr:`batch_size` ``= P * 2 * K``.

    A modality with fewer than P clusters repeats clusters in a batch; a
    modality without any cluster (every image an outlier) fills its half of
    each batch with P * K random images of that modality, which only the
    instance-level losses use: training goes on with what the epoch has.

    As :class:`CrossModalityIdentitySampler` (whose checks, epoch length and
    member draw this reuses): a fixed number of iterations per epoch, so
    MMEngine can size the train loop before the first clustering; labels read
    again at every ``__iter__``; randomness from ``seed`` and the epoch only;
    under DDP one global draw of ``iters_per_epoch * world_size`` batches of
    which rank r takes the batches ``r, r + world_size, ...`` (the labels
    must be the same on every rank, as :class:`ClusteringHook` makes them).

    Args:
        dataset (Sized): The training set; its items have ``modality`` and,
            from the first clustering on, ``label_key``.
        num_pids (int): P, clusters per modality and batch. Defaults to 16.
        num_instances (int): K, images per cluster. Defaults to 16.
        iters_per_epoch (int, optional): Batches per rank and epoch. Defaults
            to ``ceil(max(#RGB, #IR) / (P * K * world_size))``.
        label_key (str): Item field of the cluster label. Defaults to
            ``'pseudo_label'``.
        seed (int, optional): Seed of the draw, the same on every rank; None
            broadcasts one drawn on rank 0. Defaults to None.

    Example:
        >>> train_dataloader = dict(
        ...     batch_size=16 * 2 * 8,  # num_pids * 2 * num_instances
        ...     sampler=dict(type='PseudoLabelSampler', num_pids=16,
        ...                  num_instances=8, iters_per_epoch=200),
        ...     dataset=dict(type='SYSUMM01Dataset', data_root=data_root,
        ...                  pipeline=train_pipeline))
    """

    def __init__(self,
                 dataset: Sized,
                 num_pids: int = 16,
                 num_instances: int = 16,
                 iters_per_epoch: Optional[int] = None,
                 label_key: str = 'pseudo_label',
                 seed: Optional[int] = None) -> None:
        super().__init__(dataset, num_pids, num_instances, iters_per_epoch,
                         label_key, seed)
        missing = [
            name for name, modality in (('RGB', RGB), ('IR', IR))
            if not (self.modalities == modality).any()
        ]
        if missing:
            raise ValueError(f'PseudoLabelSampler: the dataset has no '
                             f'{" and no ".join(missing)} image; both '
                             'modalities are needed')

    def _groups(
            self) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
        """Group the items of each modality by cluster.

        Returns:
            list[tuple]: For RGB then IR, ``(members, starts, counts,
            clustered)``: the clustered item indices (M,) grouped by label in
            ascending order, each cluster's first position and size in
            ``members``, (C,), and True. A modality without any cluster gets
            all its items as one group and False.
        """
        labels = self._read_field(self.label_key)
        if len(labels) != len(self.modalities):
            raise ValueError(
                'PseudoLabelSampler: the dataset has changed length '
                f'({len(self.modalities)} -> {len(labels)}); build a new '
                'sampler')
        groups = []
        for modality in (RGB, IR):
            in_modality = self.modalities == modality
            members = np.flatnonzero(in_modality & (labels >= 0))
            if len(members) == 0:
                members = np.flatnonzero(in_modality)
                groups.append((members, np.zeros(1, dtype=np.int64),
                               np.array([len(members)]), False))
                continue
            members = members[np.argsort(labels[members], kind='stable')]
            counts = np.unique(labels[members], return_counts=True)[1]
            groups.append((members, np.cumsum(counts) - counts, counts, True))
        return groups

    def _draw_clusters(self, rng: np.random.Generator, num_clusters: int,
                       num_batches: int) -> np.ndarray:
        """P clusters per batch, distinct when there are at least P.

        Returns:
            np.ndarray: Cluster positions, shape (num_batches, P).
        """
        if num_clusters < self.num_pids:
            return rng.integers(num_clusters,
                                size=(num_batches, self.num_pids))
        keys = rng.random((num_batches, num_clusters))
        return np.argsort(keys, axis=1)[:, :self.num_pids]

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices, ``iters_per_epoch`` batches in a row."""
        groups = self._groups()
        rng = np.random.default_rng((self.seed, self.epoch))
        num_batches = self.iters_per_epoch * self.world_size
        halves = []  # (num_batches, P * K) RGB, then IR
        for members, starts, counts, clustered in groups:
            if clustered:
                ids = self._draw_clusters(rng, len(counts),
                                          num_batches).ravel()
                num_instances = self.num_instances
            else:
                # P * K distinct random images of the modality (with
                # replacement if it has fewer)
                ids = np.zeros(num_batches, dtype=np.int64)
                num_instances = self.num_pids * self.num_instances
            positions = _sample_members(rng, starts, counts, ids,
                                        num_instances)
            halves.append(members[positions].reshape(num_batches, -1))
        batches = np.concatenate(halves, axis=1)[self.rank::self.world_size]
        return iter(batches.ravel().tolist())
