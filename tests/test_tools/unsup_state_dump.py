"""A test-only hook (imported through ``custom_imports``): every rank saves
what its unsupervised training ends with."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmvireid.registry import HOOKS


@HOOKS.register_module()
class DumpUnsupervisedStateHook(Hook):
    """Save ``rank<r>.pth``: the head's buffers and the dataset's labels."""

    def after_train(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        torch.save(
            dict(
                buffers={
                    key: value.cpu()
                    for key, value in model.head.state_dict().items()
                    if 'memor' in key or key in ('pseudo_labels', 'rgb_to_ir',
                                                 'ir_to_rgb')
                },
                labels=torch.from_numpy(
                    runner.train_dataloader.dataset.pseudo_labels)),
            osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
