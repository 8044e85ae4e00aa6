"""MMEngine's CheckpointHook that loses nothing and stays in its directory."""
import logging
import os
import os.path as osp
from typing import Any, List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmvireid.registry import HOOKS
from mmvireid.utils.work_dir import TEMP_PREFIX, AtomicLocalBackend, is_inside


class _DeferredRemovals:
    """A file backend whose ``remove`` / ``rmtree`` only record the path."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.paths: List[str] = []

    def remove(self, path: str) -> None:
        self.paths.append(path)

    rmtree = remove

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` that never loses a checkpoint.

    Same arguments and file names as MMEngine's hook, with three changes:

    - **Atomic writes.** In a local ``out_dir`` (the work dir by default)
      every checkpoint and ``last_checkpoint`` is written to a temporary file
      and renamed over its name (:class:`~mmvireid.utils.work_dir.
      AtomicLocalBackend`): a kill or a full disk leaves the previous files,
      never a truncated one. Temporary files a killed run left behind are
      removed at the next start.
    - **Removal after success.** MMEngine removes the previous best
      checkpoint, and the oldest of ``max_keep_ckpts``, *before* writing the
      new one; here they are removed only once the new checkpoint (and
      ``last_checkpoint``) is complete.
    - **Nothing outside the directory.** A resumed checkpoint's runtime
      information names files the hook later removes (``best_ckpt``) or
      reports (``last_ckpt``); a path outside the work dir (or ``out_dir``)
      is dropped with a warning, as are ``keep_ckpt_ids`` that are not step
      numbers. ``meta['config']``, which MMEngine's ``Runner.resume`` would
      execute as a Python config file, is dropped too (MMEngine writes the
      config as ``meta['cfg']``).

    Example:
        >>> default_hooks = dict(
        ...     checkpoint=dict(type='SafeCheckpointHook', interval=1,
        ...                     max_keep_ckpts=3, save_best='sysu/all/mAP',
        ...                     rule='greater'))
    """

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Drop what a loaded checkpoint may not make the run do.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint, edited in place before
                ``Runner.resume`` reads it.
        """
        meta = checkpoint.get('meta')
        if isinstance(meta, dict) and 'config' in meta:
            meta.pop('config')
            self._warn("dropped meta['config'] of the loaded checkpoint: "
                       "MMEngine's resume would execute it as a Python config")
        hub = checkpoint.get('message_hub')
        info = hub.get('runtime_info') if isinstance(hub, dict) else None
        if not isinstance(info, dict):
            return
        directories = [runner.work_dir] + ([self.out_dir]
                                           if self.out_dir else [])
        for key in list(info):
            value = info[key]
            if key == 'keep_ckpt_ids':
                steps = value if isinstance(value, list) else [None]
                if not all(
                        isinstance(step, int) and not isinstance(step, bool)
                        and step >= 0 for step in steps):
                    info.pop(key)
                    self._warn('dropped the runtime info keep_ckpt_ids of '
                               f'the loaded checkpoint: {value!r} is not a '
                               'list of step numbers')
            elif key == 'last_ckpt' or key.startswith('best_ckpt'):
                if not (isinstance(value, str) and any(
                        is_inside(value, directory)
                        for directory in directories)):
                    info.pop(key)
                    self._warn(f'dropped the runtime info {key}={value!r} of '
                               'the loaded checkpoint: it lies outside the '
                               f'work dir {runner.work_dir!r}; nothing there '
                               'will be removed')

    def before_train(self, runner) -> None:
        """Write local checkpoints atomically; remove a killed run's
        temporary files."""
        out_dir = self.out_dir or runner.work_dir
        if (self.backend_args is None and self.file_client_args is None
                and '://' not in str(out_dir)):
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend,
                                            AtomicLocalBackend):
            for directory in {self.out_dir, runner.work_dir}:
                if not osp.isdir(directory):
                    continue
                for name in os.listdir(directory):
                    if name.startswith(TEMP_PREFIX):
                        os.remove(osp.join(directory, name))

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        """Save ``step``'s checkpoint; then update ``last_checkpoint`` and
        remove the checkpoint that falls out of ``max_keep_ckpts``."""
        dropped = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            # _save_best_checkpoint saves the current step a second time
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        AtomicLocalBackend().put_text(self.last_ckpt,
                                      osp.join(runner.work_dir,
                                               'last_checkpoint'))
        for old_step in dropped:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """MMEngine's best-checkpoint logic; the previous best is removed only
        after the new one and the regular checkpoint are written."""
        backend = self.file_backend
        self.file_backend = _DeferredRemovals(backend)
        try:
            super()._save_best_checkpoint(runner, metrics)
            removals = self.file_backend.paths
        finally:
            self.file_backend = backend
        current = {self.best_ckpt_path} if hasattr(
            self, 'best_ckpt_path') else set()
        current |= set(getattr(self, 'best_ckpt_path_dict', {}).values())
        for path in removals:
            if path in current:
                continue
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):
                backend.rmtree(path)

    @staticmethod
    def _warn(message: str) -> None:
        print_log(
            f'SafeCheckpointHook: {message}',
            logger='current',
            level=logging.WARNING)
