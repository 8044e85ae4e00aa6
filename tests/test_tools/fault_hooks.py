"""Test-only hooks (imported through ``custom_imports``) that make a run
fail as a machine would: a process that stops where the test can kill it,
a frozen rank, and a dump of what each rank validates with."""
import os.path as osp
import time

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmvireid.registry import HOOKS


@HOOKS.register_module()
class PauseAtIterHook(Hook):
    """After train iteration ``at_iter`` (1-based, over the whole run), write
    ``marker`` and wait there to be killed."""

    def __init__(self, at_iter: int, marker: str) -> None:
        self.at_iter, self.marker = at_iter, marker

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at_iter:
            with open(self.marker, 'w') as f:
                f.write(str(runner.iter + 1))
            time.sleep(600)


@HOOKS.register_module()
class FreezeRankHook(Hook):
    """Rank ``rank`` stops responding after train iteration ``at_iter``."""

    def __init__(self, rank: int, at_iter: int) -> None:
        self.rank, self.at_iter = rank, at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if get_rank() == self.rank and runner.iter + 1 == self.at_iter:
            time.sleep(600)


@HOOKS.register_module()
class DumpValBuffersHook(Hook):
    """Save ``val_buffers_rank<r>.pth``: the buffers each rank validates
    with (after every hook of higher priority ran)."""

    priority = 'LOWEST'

    def before_val_epoch(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        torch.save({
            name: buffer.detach().cpu().clone()
            for name, buffer in model.named_buffers()
        }, osp.join(runner.work_dir, f'val_buffers_rank{get_rank()}.pth'))
