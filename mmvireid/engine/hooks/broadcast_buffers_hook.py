"""Every rank holds rank 0's buffers when the model is evaluated."""
from mmengine.dist import broadcast, is_distributed
from mmengine.hooks import Hook

from mmvireid.registry import HOOKS


@HOOKS.register_module()
class BroadcastBuffersHook(Hook):
    """Copy rank 0's buffers to every rank after each train epoch and before
    each validation.

    MMEngine wraps the model with ``broadcast_buffers=False``, so each rank's
    BatchNorm running statistics follow its own batches and differ between
    ranks: validation on several processes then reads several models, and
    its metrics differ from testing the checkpoint rank 0 saved. After this
    hook every rank holds rank 0's buffers, i.e. the saved checkpoint's, so
    in-training validation equals testing that checkpoint with any number of
    processes, and the next epoch's feature extraction (clustering) reads
    one model too.

    MMEngine's :class:`~mmengine.hooks.SyncBuffersHook` averages the buffers
    instead: the average is a state no rank trained and no checkpoint holds
    before it is saved, it is cast back into integer buffers, and it is not
    exact for buffers that already agree (memory banks, pseudo-labels) when
    the number of processes is not a power of two. Broadcasting copies.

    Example:
        >>> default_hooks = dict(broadcast_buffers=dict(
        ...     type='BroadcastBuffersHook'))
    """

    priority = 'ABOVE_NORMAL'

    def after_train_epoch(self, runner) -> None:
        """Broadcast the buffers at the end of each train epoch."""
        self._broadcast(runner)

    def before_val_epoch(self, runner) -> None:
        """Broadcast the buffers before validation (iteration-based loops
        validate in the middle of training)."""
        self._broadcast(runner)

    @staticmethod
    def _broadcast(runner) -> None:
        if not is_distributed():
            return
        for buffer in runner.model.buffers():
            broadcast(buffer.data, src=0)
