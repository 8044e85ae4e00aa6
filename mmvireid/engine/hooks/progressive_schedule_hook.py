"""Hand the training epoch to the modules whose loss weights follow it."""
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmvireid.registry import HOOKS


@HOOKS.register_module()
class ProgressiveScheduleHook(Hook):
    """Call ``set_epoch(e)`` of every model module that has one.

    A loss weight is not an optimizer parameter, so MMEngine's parameter
    schedulers (which set optimizer parameter groups) cannot drive it. As
    mmdet's ``SetEpochInfoHook``, this hook hands the epoch to the model
    before every training iteration, and the model computes the weight as a
    pure function of it (e.g. :class:`MemoryContrastHead`'s λ(e) of
    :func:`progressive_weight`): a resumed run needs no extra state.

    Args:
        by_epoch (bool): Hand over the integer epoch (λ constant within an
            epoch); False hands ``epoch + batch_idx / iters_per_epoch`` for
            a ramp that moves every iteration. Defaults to True.

    Example:
        >>> custom_hooks = [dict(type='ProgressiveScheduleHook',
        ...                      by_epoch=False)]
    """

    priority = 'NORMAL'

    def __init__(self, by_epoch: bool = True):
        self.by_epoch = by_epoch

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        epoch = runner.epoch
        if not self.by_epoch:
            epoch += batch_idx / len(runner.train_dataloader)
        targets = [
            module for module in runner.model.modules()
            if callable(getattr(module, 'set_epoch', None))
        ]
        if not targets:
            raise RuntimeError(
                'ProgressiveScheduleHook: no module of the model has '
                'set_epoch(); use a head with a progressive schedule (e.g. '
                'MemoryContrastHead) or remove the hook')
        for module in targets:
            module.set_epoch(epoch)
