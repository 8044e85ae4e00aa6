"""The checkpoint files of a run's work dir: written whole, found whole.

A kill or a full disk in the middle of ``torch.save`` leaves a truncated
file. Checkpoints are therefore written to a temporary file in the same
directory and renamed over the final name (:class:`AtomicLocalBackend`,
used by :class:`~mmvireid.engine.hooks.SafeCheckpointHook`): a checkpoint
file either is complete or does not exist. Resuming reads only complete
checkpoints (:func:`find_resume_checkpoint`), so a damaged file written by
anything else (a copy, an older run) is skipped with a warning.
"""
import logging
import os
import os.path as osp
import re
import tempfile
import zipfile
from typing import List, Optional, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

#: Regular checkpoints of MMEngine's CheckpointHook (``epoch_3.pth``,
#: ``iter_400.pth``), which hold the optimizer and scheduler state a resume
#: needs; ``best_*.pth`` hold the model only.
RESUMABLE_NAME = re.compile(r'^(?:epoch|iter)_(\d+)\.pth$')

#: Prefix of the temporary files :class:`AtomicLocalBackend` writes.
TEMP_PREFIX = '.tmp-'


def is_inside(path: str, directory: str) -> bool:
    """Whether ``path`` lies inside ``directory`` once links are resolved.

    Args:
        path (str): Any path.
        directory (str): The directory.

    Returns:
        bool: True for ``directory/a/b`` (also through ``..`` or links that
        stay inside), False for anything that leaves it.
    """
    path, directory = osp.realpath(path), osp.realpath(directory)
    return osp.commonpath([path, directory]) == directory and path != directory


def checkpoint_files(work_dir: str) -> List[str]:
    """The checkpoint files directly in ``work_dir``.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        list[str]: Paths of its ``*.pth`` files and of ``last_checkpoint``,
        sorted; empty if the directory does not exist.
    """
    if not osp.isdir(work_dir):
        return []
    return sorted(
        osp.join(work_dir, name) for name in os.listdir(work_dir)
        if (name.endswith('.pth') or name == 'last_checkpoint')
        and osp.isfile(osp.join(work_dir, name)))


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole torch.save zip archive.

    ``torch.save`` writes a zip archive whose central directory comes last,
    so an empty or truncated file fails this check; nothing is unpickled.

    Args:
        path (str): A checkpoint file.

    Returns:
        bool: True if the archive's directory reads and holds a pickle.
    """
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(
                name.endswith('data.pkl') for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a ``--resume`` without a path continues from.

    The file named in ``work_dir/last_checkpoint`` if it is complete;
    otherwise (the pointer is missing, empty or names a missing or
    truncated file) the newest complete ``epoch_N.pth`` / ``iter_N.pth``
    of ``work_dir``, with a warning saying what was skipped.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The checkpoint, or None when there is nothing to resume.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
        if last and is_complete_checkpoint(last):
            return last
        problem = (f'names {last!r}, which is missing, empty or truncated'
                   if last else 'is empty')
        print_log(
            f'{pointer} {problem}; looking for the newest complete '
            f'checkpoint in {work_dir}',
            logger='current',
            level=logging.WARNING)
    candidates = sorted(((int(match.group(1)), name)
                         for name in (os.listdir(work_dir)
                                      if osp.isdir(work_dir) else [])
                         if (match := RESUMABLE_NAME.match(name))),
                        reverse=True)
    for _, name in candidates:
        path = osp.join(work_dir, name)
        if is_complete_checkpoint(path):
            return path
        print_log(
            f'Skipping {path}: empty or truncated (not a whole torch.save '
            'archive)',
            logger='current',
            level=logging.WARNING)
    return None


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend whose writes are all-or-nothing.

    :meth:`put` and :meth:`put_text` write a temporary file
    (``.tmp-<name>-XXXX`` in the target's directory), flush it to disk and
    rename it over the target (:func:`os.replace`, atomic on POSIX): a kill
    or a full disk leaves the previous file (or none), never a truncated
    one. Select it with ``backend_args=dict(backend='atomic_local')``.
    """

    def put(self, obj: Union[bytes, str], filepath: str) -> None:
        """Write ``obj`` (bytes) to ``filepath`` atomically.

        Args:
            obj (bytes): Data to be written.
            filepath (str): Path to write data.
        """
        directory = osp.dirname(osp.abspath(filepath))
        os.makedirs(directory, exist_ok=True)
        handle, temp = tempfile.mkstemp(
            prefix=f'{TEMP_PREFIX}{osp.basename(filepath)}-', dir=directory)
        try:
            # mkstemp creates the file private (0600); give it the mode a
            # plain open() would
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(handle, 0o666 & ~umask)
            with os.fdopen(handle, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, filepath)
        except BaseException:
            if osp.exists(temp):
                os.remove(temp)
            raise
        # make the rename itself durable
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put_text(self,
                 obj: str,
                 filepath: str,
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): Text to be written.
            filepath (str): Path to write data.
            encoding (str): Text encoding. Defaults to 'utf-8'.
        """
        self.put(obj.encode(encoding), filepath)
