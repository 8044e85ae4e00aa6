"""A test-only hook (imported through ``custom_imports``): every rank saves
what its unsupervised training ends with."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmvireid.registry import HOOKS


@HOOKS.register_module()
class DumpUnsupervisedStateHook(Hook):
    """Save ``rank<r>.pth``: the head's memory and the dataset's labels."""

    def after_train(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        torch.save(
            dict(
                buffers={
                    key: value.cpu()
                    for key, value in model.head.memory.state_dict().items()
                },
                labels=torch.from_numpy(
                    runner.train_dataloader.dataset.pseudo_labels)),
            osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
