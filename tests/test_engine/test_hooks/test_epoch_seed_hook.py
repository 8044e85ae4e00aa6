"""EpochSeedHook: every random stream of an epoch is a function of (seed,
epoch, rank, worker), so a resumed run draws what the uninterrupted one
drew."""
import itertools
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmvireid.engine.hooks import EpochSeedHook, epoch_seed_hook
from mmvireid.engine.hooks.epoch_seed_hook import EpochWorkerSeeder

RUN_IDS = itertools.count()


class RandomItems(Dataset):
    """Each item is three draws, as augmentations make them: from
    ``random``, numpy's global generator and torch."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return dict(inputs=torch.tensor(
            [random.random(), np.random.rand(),
             torch.rand(()).item()]))


class Recorder(BaseModel):
    """Records every batch it trains on, and one main-process draw."""

    def __init__(self, record):
        super().__init__()
        self.linear = nn.Linear(3, 1)
        self.record = record

    def forward(self, inputs, mode='tensor'):
        batch = torch.stack(inputs)
        self.record.append(torch.cat([batch.flatten(), torch.rand(1)]))
        return dict(loss=self.linear(batch).pow(2).mean())


def train(work_dir, record, max_epochs, num_workers, persistent, **kwargs):
    runner = Runner(
        model=Recorder(record),
        work_dir=str(work_dir),
        experiment_name=f'epoch_seed_{next(RUN_IDS)}',
        train_dataloader=dict(
            dataset=RandomItems(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=num_workers,
            persistent_workers=persistent and num_workers > 0,
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=CheckpointHook(interval=1)),
        custom_hooks=[EpochSeedHook()],
        randomness=dict(seed=3),
        default_scope='mmengine',
        log_level='WARNING',
        **kwargs)
    runner.train()
    return runner


@pytest.mark.parametrize('num_workers, persistent', [(0, False), (1, False)])
def test_resumed_run_draws_what_the_uninterrupted_one_drew(
        tmp_path, num_workers, persistent):
    full = []
    train(tmp_path / 'full', full, 3, num_workers, persistent)
    assert len(full) == 6  # 3 epochs x 2 batches
    # every epoch draws anew, in the workers (first 6 values) too
    assert not torch.equal(full[0][:6], full[2][:6])
    assert not torch.equal(full[2][:6], full[4][:6])
    resumed = []
    train(
        tmp_path / 'resumed',
        resumed,
        3,
        num_workers,
        persistent,
        resume=True,
        load_from=str(tmp_path / 'full' / 'epoch_1.pth'))
    assert len(resumed) == 4
    for got, expected in zip(resumed, full[2:]):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_persistent_workers_are_reported(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(epoch_seed_hook, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    train(tmp_path, [], 1, 1, True)
    assert any('train_dataloader.persistent_workers=True' in message
               for message in logged)


def test_worker_seeder_is_a_pure_function():

    def draws(seed, epoch, rank, worker_id):
        EpochWorkerSeeder(seed, epoch, rank)(worker_id)
        return (random.random(), np.random.rand(), torch.rand(()).item())

    reference = draws(0, 1, 0, 0)
    assert draws(0, 1, 0, 0) == reference
    for other in [(1, 1, 0, 0), (0, 2, 0, 0), (0, 1, 1, 0), (0, 1, 0, 1)]:
        assert all(a != b for a, b in zip(draws(*other), reference))
