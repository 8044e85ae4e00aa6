"""Checks of the training config against the data, before the first step."""
import logging

import numpy as np
from mmengine.dataset import ConcatDataset
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.utils import get_ori_model

from mmvireid.datasets import BaseVIReIDDataset, VIReIDConcatDataset
from mmvireid.registry import HOOKS


@HOOKS.register_module()
class CheckTrainConfigHook(Hook):
    """Check the config against the built data before training starts.

    Values that only fail late or silently are checked once the train
    dataloader and the model exist, naming the config key:

    - ``train_dataloader.batch_size`` must be the batch its sampler lays out
      (``num_pids * 2 * num_instances`` for the cross-modality samplers,
      their ``check_batch_size``); otherwise batches mix draws or lose a
      modality (MCLNet's MMD term is then 0).
    - ``train_dataloader.dataset`` must not be MMEngine's plain
      ``ConcatDataset`` of VI-ReID datasets: it would merge their identities
      (pid ``k`` of every part one class) and restart ``sample_idx`` in
      every part; :class:`VIReIDConcatDataset` keeps them apart.
    - ``model.head.num_classes`` must cover the identities of the training
      set (pids ``0 .. C-1``); fewer classes fail at the first step with an
      ``IndexError`` of the loss, more leave classifier rows untrained (a
      warning).

    Example:
        >>> default_hooks = dict(check_train_config=dict(
        ...     type='CheckTrainConfigHook'))
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Run the checks.

        Raises:
            ValueError: Naming the config key and the expected value.
        """
        loader = runner.train_dataloader
        dataset = loader.dataset
        if isinstance(dataset, ConcatDataset) and not isinstance(
                dataset, VIReIDConcatDataset) and any(
                    isinstance(part, BaseVIReIDDataset)
                    for part in dataset.datasets):
            raise ValueError(
                "train_dataloader.dataset: MMEngine's ConcatDataset of "
                'VI-ReID datasets would train pid k of every dataset as one '
                'identity (and restart sample_idx in each); use '
                "type='VIReIDConcatDataset', which keeps their identities "
                'apart')
        sampler = loader.sampler
        check_batch_size = getattr(sampler, 'check_batch_size', None)
        if check_batch_size is not None and loader.batch_size is not None:
            check_batch_size(loader.batch_size)
        if getattr(sampler, 'label_key', 'pid') != 'pid':
            return  # pseudo-labels: the head sizes itself
        head = getattr(get_ori_model(runner.model), 'head', None)
        num_classes = getattr(head, 'num_classes', None)
        pids = getattr(loader.dataset, 'pids', None)
        if not isinstance(num_classes, int) or num_classes <= 0 \
                or pids is None or len(pids) == 0:
            return
        needed = int(np.max(pids)) + 1
        where = (f'train_dataloader.dataset ({type(dataset).__name__}, '
                 f"data_root={getattr(dataset, 'data_root', None)!r})")
        if num_classes < needed:
            raise ValueError(
                f'model.head.num_classes={num_classes} is smaller than the '
                f'{needed} identities of {where} (pids 0..{needed - 1}); set '
                f'model.head.num_classes={needed}')
        if num_classes > needed:
            print_log(
                f'CheckTrainConfigHook: model.head.num_classes={num_classes}'
                f' but {where} has {needed} identities: '
                f'{num_classes - needed} classifier rows are never trained '
                '(the config of another dataset?)',
                logger='current',
                level=logging.WARNING)
