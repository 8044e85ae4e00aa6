"""Safe loading of MMEngine checkpoints under torch's ``weights_only=True``.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine 0.10.7
calls ``torch.load`` without the argument, so ``--resume`` and ``load_from``
fail on the ``HistoryBuffer`` and numpy objects that MMEngine pickles into a
checkpoint (``shared/docs/stack.md``, trap 1). Loading with
``weights_only=False`` would let any checkpoint run code on the user's machine,
so instead this module

- allow-lists exactly the globals an MMEngine checkpoint pickles
  (:data:`MMENGINE_CHECKPOINT_GLOBALS`, added with
  :func:`torch.serialization.add_safe_globals`);
- maps the ``builtins.getattr`` those checkpoints use to reach
  ``HistoryBuffer.min`` & co. to a guarded lookup that returns nothing but
  HistoryBuffer's registered statistics methods (``getattr`` itself would let
  a pickle walk from any allowed class to ``object.__subclasses__()``);
- registers :func:`load_from_local_safe` as MMEngine's local-path checkpoint
  scheme, which loads with ``weights_only=True`` and turns a refusal into an
  error naming the file, the offending globals and how to opt in knowingly,
  per global: :func:`trust_checkpoint_globals`, or the
  ``MMVIREID_TRUSTED_GLOBALS`` environment variable for command-line runs.
  Nothing here ever loads with ``weights_only=False``.

Importing this module installs the policy (:func:`install_checkpoint_policy`,
idempotent).

Example:
    >>> # in a module listed in the config's ``custom_imports``
    >>> from mmvireid.utils.checkpoint import trust_checkpoint_globals
    >>> trust_checkpoint_globals(['datetime.datetime'])

    .. code-block:: shell

        MMVIREID_TRUSTED_GLOBALS=datetime.datetime \\
            python tools/train.py CONFIG --resume
"""
import importlib
import os
import os.path as osp
import pickle
import re
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader
from numpy import dtypes as np_dtypes

#: Environment variable naming globals (comma-separated ``module.qualname``)
#: that the user trusts checkpoints to pickle: :func:`trust_checkpoint_globals`
#: for runs started from the command line.
TRUSTED_GLOBALS_ENV = 'MMVIREID_TRUSTED_GLOBALS'


def _history_buffer_statistic(obj: Any, name: Any) -> Callable:
    """Guarded stand-in for ``builtins.getattr`` while unpickling.

    ``HistoryBuffer.__getstate__`` pickles its ``_statistics_methods`` dict,
    whose values pickle (protocol 2) as ``getattr(HistoryBuffer, 'min')``.
    Only that lookup is answered: ``obj`` must be ``HistoryBuffer`` and
    ``name`` a statistics method registered in
    ``HistoryBuffer._statistics_methods`` that is HistoryBuffer's own method.

    Args:
        obj (Any): The object the pickle wants an attribute of.
        name (Any): The attribute name.

    Returns:
        Callable: The statistics method, e.g. ``HistoryBuffer.mean``.

    Raises:
        pickle.UnpicklingError: For any other lookup.
    """
    if obj is HistoryBuffer and isinstance(name, str):
        method = HistoryBuffer._statistics_methods.get(name)
        if method is not None and vars(HistoryBuffer).get(name) is method:
            return method
    raise pickle.UnpicklingError(
        f'it calls builtins.getattr({obj!r}, {name!r}), but a checkpoint may '
        'only look up the statistics methods of HistoryBuffer '
        f'{sorted(HistoryBuffer._statistics_methods)}')


#: Every global an MMEngine checkpoint pickles besides torch's own defaults,
#: found by training a toy MMEngine Runner on CPU and listing
#: ``torch.serialization.get_unsafe_globals_in_checkpoint`` plus the dtype
#: classes the unpickler asks for when it builds numpy dtypes.
MMENGINE_CHECKPOINT_GLOBALS = (
    # message_hub.log_scalars: one HistoryBuffer per logged scalar
    HistoryBuffer,
    # HistoryBuffer.statistics_methods: getattr(HistoryBuffer, 'min') & co.,
    # answered by the guarded lookup, never by getattr itself
    (_history_buffer_statistic, 'builtins.getattr'),
    # HistoryBuffer._log_history / _count_history are numpy arrays
    np._core.multiarray._reconstruct,
    np.ndarray,
    # numpy scalars, e.g. message_hub.runtime_info['eta'] (np.float64)
    np._core.multiarray.scalar,
    # dtype of every array and scalar
    np.dtype,
    # dtype classes the dtypes are built as: float64 logs, int64 counts ...
    np_dtypes.Float64DType,
    np_dtypes.Int64DType,
    # ... and the other numpy types a MessageHub commonly holds in
    # runtime_info (float32 metrics, int32 counts, bool flags)
    np_dtypes.Float32DType,
    np_dtypes.Int32DType,
    np_dtypes.BoolDType,
    # the same two functions under their numpy 1.x module path, as written by
    # checkpoints saved with numpy < 2
    (np._core.multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
    (np._core.multiarray.scalar, 'numpy.core.multiarray.scalar'),
)


def install_checkpoint_policy() -> None:
    """Allow-list MMEngine's checkpoint globals and use the safe local loader.

    Idempotent: torch keeps the allow-list as a set and the scheme is
    re-registered with ``force=True``.
    """
    # A HistoryBuffer registers the default statistics (min, max, current,
    # mean) on creation; do it now, since a resuming process may load a
    # checkpoint before it has created any buffer.
    HistoryBuffer()
    torch.serialization.add_safe_globals(list(MMENGINE_CHECKPOINT_GLOBALS))
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_safe, force=True)


def _resolve_global(name: str) -> Any:
    """Import ``'module.qualname'`` and return the object it names."""
    parts = name.split('.')
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        return obj
    raise ValueError(f'trust_checkpoint_globals: cannot import {name!r}; '
                     "expected 'module.qualname', e.g. 'datetime.datetime'")


def _blocked(name: str) -> bool:
    """Whether torch refuses ``name`` whatever the allow-list says."""
    # torch's weights-only unpickler rejects these modules (os, sys, posix,
    # nt) before it looks at the allow-list; it exposes them only privately.
    from torch._weights_only_unpickler import _blocklisted_modules
    return name.rpartition('.')[0] in _blocklisted_modules


def trust_checkpoint_globals(names: Sequence[str]) -> None:
    """Allow checkpoints to pickle the given globals, knowingly.

    Call it from a module listed in the config's ``custom_imports`` when you
    trust every checkpoint you load to use these globals only as intended:
    unpickling can call any allowed function with any arguments.

    Args:
        names (Sequence[str]): Globals as the refusal message names them,
            ``'module.qualname'`` (e.g. ``'datetime.datetime'``).

    Raises:
        ValueError: If a name cannot be imported, is ``builtins.getattr``
            (served by a guarded lookup; trusting it would open every
            attribute of every allowed class) or lies in a module torch
            never unpickles (``os``, ``sys`` ...).

    Example:
        >>> trust_checkpoint_globals(['datetime.datetime'])
    """
    if isinstance(names, str):
        raise TypeError('trust_checkpoint_globals: names must be a list of '
                        f"'module.qualname' strings, got the string {names!r}")
    trusted = []
    for name in names:
        if name == 'builtins.getattr':
            raise ValueError(
                'trust_checkpoint_globals: builtins.getattr cannot be '
                'trusted: it reaches every attribute of every allowed class '
                '(up to object.__subclasses__()); mmvireid answers it with a '
                'lookup limited to HistoryBuffer statistics.')
        if _blocked(name):
            raise ValueError(
                f'trust_checkpoint_globals: torch never unpickles {name!r} '
                'with weights_only=True.')
        trusted.append((_resolve_global(name), name))
    torch.serialization.add_safe_globals(trusted)


def _trust_env_globals() -> None:
    """Allow-list the globals named in :data:`TRUSTED_GLOBALS_ENV`."""
    names = [
        name.strip()
        for name in os.environ.get(TRUSTED_GLOBALS_ENV, '').split(',')
        if name.strip()
    ]
    if names:
        try:
            trust_checkpoint_globals(names)
        except ValueError as error:
            raise ValueError(f'{TRUSTED_GLOBALS_ENV}: {error}') from error


def _offending_globals(filename: str, message: str) -> List[str]:
    """Globals of a checkpoint that are not allow-listed.

    A zip-format checkpoint is scanned statically, which lists them all; for
    the legacy format the unpickler's message names the first one.
    """
    try:
        return sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except ValueError:  # legacy (non-zip) format: no static scan
        return re.findall(r'GLOBAL (\S+) (?:was not an allowed|whose module)',
                          message)[:1]


def _unpickler_reason(message: str) -> str:
    """The unpickler's own reason inside torch's weights-only error text."""
    reason = message.rpartition('WeightsUnpickler error:')[2]
    reason = re.split(r'\n\s*Check the documentation of torch.load', reason)[0]
    return (reason.strip().splitlines() or [message])[-1]


def _refusal_message(filename: str, error: Exception) -> str:
    offending = _offending_globals(filename, str(error))
    if offending:
        what = ('it pickles globals outside the allow-list of '
                f'mmvireid.utils.checkpoint: {", ".join(offending)}')
    else:
        what = f'its pickle was refused: {_unpickler_reason(str(error))}'
    trustable = [name for name in offending if not _blocked(name)]
    blocked = [name for name in offending if _blocked(name)]
    how = ''
    if trustable:
        how += (
            '\nIf you trust it to use these globals only as intended, allow '
            f'them knowingly: set {TRUSTED_GLOBALS_ENV}='
            f'{",".join(trustable)} or call mmvireid.utils.checkpoint.'
            f'trust_checkpoint_globals({trustable!r}) in a module listed in '
            "the config's custom_imports.")
    if blocked or not offending:
        how += ('\nTorch never unpickles '
                f'{", ".join(blocked) or "what it refused"} with '
                'weights_only=True: keep only the tensors of a file you '
                'trust, e.g. torch.save(torch.load(f, weights_only=False)'
                "['state_dict'], new_f), and load that.")
    return (f'Refused to load checkpoint {filename!r} with weights_only=True: '
            f'{what}.\nLoading it could run arbitrary code on this machine: '
            f'a pickle can call any function it names.{how}')


def load_from_local_safe(
        filename: str,
        map_location: Optional[Union[str, Callable,
                                     torch.device]] = None) -> Any:
    """Load a local checkpoint with ``weights_only=True`` (MMEngine scheme).

    Registered for MMEngine's local-path prefix ``''``, so ``Runner.resume``,
    ``load_from``, ``load_checkpoint`` and ``init_cfg=dict(type='Pretrained')``
    with a local path all load through it. The globals named in
    ``MMVIREID_TRUSTED_GLOBALS`` are allow-listed first.

    Args:
        filename (str): Local checkpoint path (``~`` is expanded).
        map_location (str | callable | torch.device, optional): Same as
            :func:`torch.load`. Defaults to None.

    Returns:
        dict | OrderedDict: The loaded checkpoint.

    Raises:
        FileNotFoundError: If ``filename`` is not a file.
        pickle.UnpicklingError: If the checkpoint pickles a global outside
            the allow-list; the message names the file and the globals and
            says how to opt in, the torch error is its ``__cause__``.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    _trust_env_globals()
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(_refusal_message(filename,
                                                      error)) from error


install_checkpoint_policy()
