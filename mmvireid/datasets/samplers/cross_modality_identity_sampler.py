"""P identities x K images of each modality in every batch."""
import math
from typing import Iterator, Optional, Sized, Tuple

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmvireid.registry import DATA_SAMPLERS
from ...structures import IR, RGB


def _sample_members(rng: np.random.Generator,
                    starts: np.ndarray,
                    counts: np.ndarray,
                    ids: np.ndarray,
                    num_instances: int,
                    replace: bool = False) -> np.ndarray:
    """Draw ``num_instances`` members of each id in ``ids``.

    The members of id ``i`` are the positions ``starts[i] ..
    starts[i] + counts[i] - 1`` of a grouped member array. They are drawn
    with replacement when ``replace`` is set or the id has fewer than
    ``num_instances`` members, without replacement otherwise.

    Args:
        rng (np.random.Generator): The generator of the draw.
        starts (np.ndarray): First position of each id's members, (I,).
        counts (np.ndarray): Number of members of each id, (I,), all >= 1.
        ids (np.ndarray): The ids to draw for, (O,), repeats allowed.
        num_instances (int): K, members drawn per id.
        replace (bool): Always draw with replacement. Defaults to False.

    Returns:
        np.ndarray: Positions into the member array, (O, K).
    """
    cnt = counts[ids]
    positions = starts[ids, None] + (rng.random(
        (len(ids), num_instances)) * cnt[:, None]).astype(np.int64)
    if replace:
        return positions
    full = np.flatnonzero(cnt >= num_instances)
    if len(full):
        # Without replacement for all rows at once: give every member of
        # every row the key row + U[0, 1), sort (which shuffles inside each
        # row and keeps the rows in order) and keep the first K of each row.
        full_cnt = cnt[full]
        row = np.repeat(np.arange(len(full)), full_cnt)
        row_start = np.repeat(np.cumsum(full_cnt) - full_cnt, full_cnt)
        offset = np.arange(len(row)) - row_start
        shuffled = np.argsort(row + rng.random(len(row)))
        first_k = offset[shuffled[offset < num_instances]]
        positions[full] = starts[ids[full], None] + first_k.reshape(
            len(full), num_instances)
    return positions


@DATA_SAMPLERS.register_module()
class CrossModalityIdentitySampler(Sampler):
    """Batches of P identities x (K RGB + K IR) images.

    Every batch draws ``num_pids`` (P) distinct identities among those that
    have images of both modalities, then ``num_instances`` (K) RGB and K IR
    images of each, without replacement unless the identity has fewer than K
    images of that modality; ``replace=True`` always draws the K images with
    replacement, as the AGW and MCLNet ``IdentitySampler`` do
    (``np.random.choice(pos, num_pos)``, AGW ``utils.py`` L77–78). Items whose
    label is negative (the -1 outliers of clustering) are never drawn. A batch
    is laid out as ``[K RGB of id 1, ..., K RGB of id P, K IR of id 1, ..., K
    IR of id P]``,
    so the data loader's ``batch_size`` must be ``num_pids * 2 *
    num_instances`` (:attr:`batch_size`).

    An epoch has a fixed number of iterations, so MMEngine can size the
    train loop before any pseudo-label exists. The labels are read again at
    every ``__iter__`` (from ``dataset.<label_key>s`` when the dataset has
    that attribute, e.g. ``pids`` of :class:`BaseVIReIDDataset`, otherwise
    from ``get_data_info``), so pseudo-labels written into the dataset
    between epochs are used.

    Randomness comes from ``seed`` and the epoch only (:meth:`set_epoch`).
    Under DDP every rank makes the same draw of ``iters_per_epoch *
    world_size`` batches and takes the batches ``rank, rank + world_size,
    ...``: the ranks get distinct batches of one global draw. The labels must
    then be the same on every rank.

    Args:
        dataset (Sized): The training set; its items have ``modality`` and
            ``label_key``.
        num_pids (int): P, identities per batch. Defaults to 4.
        num_instances (int): K, images per identity and modality.
            Defaults to 4.
        iters_per_epoch (int, optional): Batches per rank and epoch. Defaults
            to enough for the whole job to see as many images as the larger
            modality has: ``ceil(max(#RGB, #IR) / (P * K * world_size))``.
        label_key (str): Item field holding the identity label, e.g.
            ``'pid'`` or ``'pseudo_label'``. Defaults to ``'pid'``.
        seed (int, optional): Seed of the draw, the same on every rank. None
            draws one on rank 0 and broadcasts it
            (:func:`mmengine.dist.sync_random_seed`). Defaults to None.
        replace (bool): Draw the K images of an identity with replacement
            (AGW / MCLNet). Defaults to False.

    Example:
        >>> train_dataloader = dict(
        ...     batch_size=32,  # num_pids * 2 * num_instances
        ...     num_workers=4,
        ...     sampler=dict(type='CrossModalityIdentitySampler',
        ...                  num_pids=4, num_instances=4),
        ...     dataset=dict(type='SYSUMM01Dataset',
        ...                  data_root='data/sysu_mm01',
        ...                  pipeline=train_pipeline))
    """

    def __init__(self,
                 dataset: Sized,
                 num_pids: int = 4,
                 num_instances: int = 4,
                 iters_per_epoch: Optional[int] = None,
                 label_key: str = 'pid',
                 seed: Optional[int] = None,
                 replace: bool = False) -> None:
        counts = dict(num_pids=num_pids, num_instances=num_instances)
        if iters_per_epoch is not None:
            counts['iters_per_epoch'] = iters_per_epoch
        for name, value in counts.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{type(self).__name__}: {name} must '
                                 f'be an int >= 1, got {value!r}')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.num_pids = num_pids
        self.num_instances = num_instances
        self.label_key = label_key
        self.replace = replace
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0

        modalities = self._read_field('modality')
        unknown = np.setdiff1d(modalities, (RGB, IR))
        if len(unknown):
            raise ValueError(
                f'{type(self).__name__}: modality values must be RGB '
                f'({RGB}) or IR ({IR}), found {unknown.tolist()}')
        self.modalities = modalities
        if iters_per_epoch is None:
            larger = max(np.sum(modalities == RGB), np.sum(modalities == IR))
            iters_per_epoch = max(
                1,
                math.ceil(larger /
                          (num_pids * num_instances * self.world_size)))
        self.iters_per_epoch = iters_per_epoch

    @property
    def batch_size(self) -> int:
        """int: ``num_pids * 2 * num_instances``, the loader's batch size."""
        return self.num_pids * 2 * self.num_instances

    def check_batch_size(self, batch_size: int) -> None:
        """Check the data loader's ``batch_size`` against :attr:`batch_size`.

        The loader cuts the index stream into batches of its own size, so
        any other size mixes two draws in a batch or splits one (a batch may
        then hold one modality only).

        Args:
            batch_size (int): ``train_dataloader.batch_size``.

        Raises:
            ValueError: Naming both keys and the expected value.
        """
        if batch_size != self.batch_size:
            raise ValueError(
                f'train_dataloader.batch_size={batch_size} does not match '
                f'its {type(self).__name__}: sampler.num_pids '
                f'({self.num_pids}) x 2 modalities x sampler.num_instances '
                f'({self.num_instances}) = {self.batch_size} images per '
                f'batch; set train_dataloader.batch_size={self.batch_size}')

    def _read_field(self, key: str) -> np.ndarray:
        """Read ``key`` of every item as an int array of shape (N,)."""
        plural = 'modalities' if key == 'modality' else f'{key}s'
        values = getattr(self.dataset, plural, None)
        if values is None:
            try:
                values = [
                    self.dataset.get_data_info(i)[key]
                    for i in range(len(self.dataset))
                ]
            except KeyError as error:
                raise KeyError(
                    f'{type(self).__name__}: dataset items have no '
                    f'{key!r} field (label_key={self.label_key!r}); assign '
                    'pseudo-labels before iterating') from error
        values = np.asarray(values)
        if values.shape != (len(self.dataset), ) or not np.issubdtype(
                values.dtype, np.integer):
            raise ValueError(
                f'{type(self).__name__}: {key!r} of the dataset must '
                f'be {len(self.dataset)} ints, got an array of shape '
                f'{values.shape} and dtype {values.dtype}')
        return values

    def _groups(self) -> Tuple[int, list]:
        """Group the drawable items of each modality by identity.

        Returns:
            tuple: The number of identities I with images of both modalities,
            and for RGB then IR a tuple ``(members, starts, counts)``:
            item indices (M,) grouped by identity in sorted label order, and
            each identity's first position and count in ``members``, (I,).
        """
        labels = self._read_field(self.label_key)
        if len(labels) != len(self.modalities):
            raise ValueError(
                'CrossModalityIdentitySampler: the dataset has changed '
                f'length ({len(self.modalities)} -> {len(labels)}); build a '
                'new sampler')
        valid = labels >= 0
        pids = np.intersect1d(labels[valid & (self.modalities == RGB)],
                              labels[valid & (self.modalities == IR)])
        if len(pids) < self.num_pids:
            raise ValueError(
                f'CrossModalityIdentitySampler: {len(pids)} identities '
                f'({self.label_key!r} >= 0) have images of both modalities, '
                f'fewer than num_pids={self.num_pids}')
        groups = []
        for modality in (RGB, IR):
            members = np.flatnonzero(valid & (self.modalities == modality)
                                     & np.isin(labels, pids))
            members = members[np.argsort(labels[members], kind='stable')]
            counts = np.bincount(
                np.searchsorted(pids, labels[members]), minlength=len(pids))
            groups.append((members, np.cumsum(counts) - counts, counts))
        return len(pids), groups

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices, ``iters_per_epoch`` batches in a row."""
        num_ids, groups = self._groups()
        rng = np.random.default_rng((self.seed, self.epoch))
        num_batches = self.iters_per_epoch * self.world_size
        batch_pids = np.stack([
            rng.choice(num_ids, self.num_pids, replace=False)
            for _ in range(num_batches)
        ]).ravel()
        halves = []  # (num_batches, P * K) RGB, then IR
        for members, starts, counts in groups:
            positions = _sample_members(rng, starts, counts, batch_pids,
                                        self.num_instances, self.replace)
            halves.append(members[positions].reshape(num_batches, -1))
        batches = np.concatenate(halves, axis=1)[self.rank::self.world_size]
        return iter(batches.ravel().tolist())

    def __len__(self) -> int:
        """int: Indices yielded by this rank per epoch."""
        return self.iters_per_epoch * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which changes the draw.

        Args:
            epoch (int): Epoch number.
        """
        self.epoch = epoch
