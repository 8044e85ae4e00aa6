"""Random streams that are a function of (seed, epoch, rank, worker)."""
import logging
import random
from functools import partial

import numpy as np
import torch
from mmengine.dataset.utils import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmvireid.registry import HOOKS


def _seed_all(*entropy: int) -> None:
    """Seed ``random``, numpy's global generator and torch from ``entropy``.

    Args:
        *entropy (int): Ints, e.g. ``(seed, epoch, rank)``.
    """
    sequence = np.random.SeedSequence([value % 2**64 for value in entropy])
    state = sequence.generate_state(2, np.uint64)
    random.seed(int(state[0]))
    np.random.seed(int(state[0] % 2**32))
    torch.manual_seed(int(state[1] % 2**63))


class EpochWorkerSeeder:
    """``worker_init_fn`` seeding a loader worker from (seed, epoch, rank, id).

    A plain picklable object, so it reaches workers started with ``fork`` or
    ``spawn``; :class:`EpochSeedHook` puts a new one on the train loader
    before each epoch starts its workers.

    Args:
        seed (int): The run's seed.
        epoch (int): The epoch the workers serve.
        rank (int): The process rank.
    """

    def __init__(self, seed: int, epoch: int, rank: int) -> None:
        self.seed, self.epoch, self.rank = seed, epoch, rank

    def __call__(self, worker_id: int) -> None:
        _seed_all(self.seed, self.epoch, self.rank, worker_id, 1)


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed every random stream of training at the start of each epoch.

    MMEngine seeds the main process once per run and each loader worker with
    ``seed + worker id`` (no epoch): a run resumed from a checkpoint restarts
    those streams where a fresh run started them, so it draws other
    augmentations than the uninterrupted run did (persistent workers), or
    every epoch repeats the same draws per worker (non-persistent ones).
    Before each epoch this hook seeds the main process (``random``, numpy,
    torch) from ``(seed, epoch)`` and gives the train loader a
    ``worker_init_fn`` (:class:`EpochWorkerSeeder`) that seeds each worker
    from ``(seed, epoch, rank, worker id)``. A run resumed at an epoch
    boundary therefore draws exactly what the uninterrupted run drew.

    The workers must start anew every epoch, so the train loader must not
    use ``persistent_workers`` (``tools/train.py`` turns them off for it):
    restarting a few workers once per epoch costs little next to an epoch,
    and relabelled datasets (unsupervised training) reach fresh workers as
    well. With persistent workers the hook warns that a resumed run will not
    be exact. A custom ``worker_init_fn`` of the config is left alone, with
    a warning.

    Example:
        >>> default_hooks = dict(epoch_seed=dict(type='EpochSeedHook'))
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Check that the train loader's workers can be reseeded."""
        loader = runner.train_dataloader
        if loader.num_workers > 0 and loader.persistent_workers:
            self._warn('train_dataloader.persistent_workers=True: its '
                       'workers keep their random streams across epochs, so '
                       'a resumed run will not reproduce the uninterrupted '
                       'one; set train_dataloader.persistent_workers=False')
        if not self._replaceable(loader.worker_init_fn):
            self._warn('train_dataloader.worker_init_fn is custom: workers '
                       'are not reseeded per epoch')

    def before_train_epoch(self, runner) -> None:
        """Seed the main process and the epoch's workers."""
        seed, epoch = runner.seed, runner.epoch
        _seed_all(seed, epoch, 0)
        loader = runner.train_dataloader
        if loader.num_workers > 0 and self._replaceable(
                loader.worker_init_fn):
            loader.worker_init_fn = EpochWorkerSeeder(seed, epoch, get_rank())

    @staticmethod
    def _replaceable(init_fn) -> bool:
        """MMEngine's default seeding, ours, or none."""
        return init_fn is None or isinstance(init_fn, EpochWorkerSeeder) or (
            isinstance(init_fn, partial)
            and init_fn.func is mmengine_worker_init_fn)

    @staticmethod
    def _warn(message: str) -> None:
        print_log(
            f'EpochSeedHook: {message}',
            logger='current',
            level=logging.WARNING)
