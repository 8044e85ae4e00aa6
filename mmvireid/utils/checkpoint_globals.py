"""What a checkpoint may name: the allow-list and the knowing opt-in.

torch's ``weights_only=True`` unpickler reconstructs only the globals it
allows. :data:`MMENGINE_CHECKPOINT_GLOBALS` are the ones an MMEngine
checkpoint needs besides torch's own; :func:`trust_checkpoint_globals` adds
more for a user who trusts a file, but only classes that hold data: a
callable that can run code is refused by identity under any alias
(:func:`untrustable_reason`). Used by :mod:`mmvireid.utils.checkpoint`.

No list of dangerous objects is complete; the rule that only classes can be
trusted is what keeps every function out, and the module list keeps out the
classes whose construction acts (``subprocess.Popen``, ``io.FileIO``,
``functools.partial``, ``operator.methodcaller`` ...).
"""
import builtins
import functools
import importlib
import inspect
import os
import pickle
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from numpy import dtypes as np_dtypes

#: Environment variable naming globals (comma-separated ``module.qualname``)
#: that the user trusts checkpoints to pickle: :func:`trust_checkpoint_globals`
#: for runs started from the command line.
TRUSTED_GLOBALS_ENV = 'MMVIREID_TRUSTED_GLOBALS'

#: Callables refused by identity whatever name they are trusted under (they
#: run code, import modules or reach attributes of any object).
_CODE_RUNNING_BUILTINS = frozenset(
    getattr(builtins, name) for name in (
        'eval', 'exec', 'compile', '__import__', 'getattr', 'setattr',
        'delattr', 'globals', 'locals', 'vars', 'open', 'breakpoint', 'input',
        'help', 'exit', 'quit', '__build_class__') if hasattr(builtins, name))

#: The only ``builtins`` a user may trust: classes that hold data.
_DATA_BUILTINS = frozenset(
    (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set,
     frozenset, slice, range))

#: Modules none of whose objects can be trusted: they run code, start
#: processes, touch files or sockets, import modules, or apply other
#: callables (``functools.partial``, ``operator.methodcaller`` ...). A
#: name is refused when the object it resolves to, or a base class of it,
#: comes from one of them or from a submodule.
_CODE_RUNNING_MODULES = frozenset((
    'os', 'posix', 'nt', 'sys', 'subprocess', '_posixsubprocess', 'shutil',
    'importlib', 'pkgutil', 'runpy', 'code', 'codeop', 'pickle', '_pickle',
    'pickletools', 'marshal', 'copyreg', 'shelve', 'dbm', 'dill',
    'cloudpickle', 'joblib', 'ctypes', '_ctypes', 'pty', 'tty', 'fcntl',
    'signal', '_signal', 'resource', 'multiprocessing', '_multiprocessing',
    'concurrent', 'threading', '_thread', 'asyncio', 'socket', '_socket',
    'ssl', 'http', 'urllib', 'ftplib', 'smtplib', 'xmlrpc', 'webbrowser',
    'io', '_io', 'codecs', '_codecs', 'pathlib', 'tempfile', 'glob',
    'fileinput', 'zipfile', 'tarfile', 'gzip', 'bz2', 'lzma', 'mmap',
    'sqlite3', 'logging', 'functools', '_functools', 'operator', '_operator',
    'itertools', 'types', 'inspect', 'gc', 'weakref', '_weakref', 'atexit',
    'pdb', 'bdb', 'cProfile', 'profile', 'timeit', 'trace', 'doctest',
    'pydoc', 'site', 'sysconfig', 'platform', 'contextlib',
    'torch.hub', 'torch.jit', 'torch.package', 'torch.serialization',
    'torch.utils.cpp_extension', 'torch.library', 'torch.ops',
    'torch.distributed', 'torch.multiprocessing', 'mmengine.config',
    'mmengine.fileio', 'mmengine.runner', 'numpy.lib.npyio',
    'numpy.lib.format', 'numpy.f2py', 'numpy.distutils', 'numpy.testing'))

#: Classes in otherwise harmless modules whose construction touches files.
_FILE_CLASSES = frozenset((np.memmap, ))


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


def resolve_global(name: str) -> Any:
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
    raise ValueError(f'cannot import {name!r}; expected '
                     "'module.qualname', e.g. 'datetime.datetime'")


def _unwrap(obj: Any) -> List[Any]:
    """``obj`` and every callable it wraps (partials, bound methods ...)."""
    found, todo = [], [obj]
    while todo:
        item = todo.pop()
        if any(item is seen for seen in found):
            continue
        found.append(item)
        if isinstance(item, functools.partial):
            todo += [item.func, *item.args, *item.keywords.values()]
        for attr in ('__func__', '__wrapped__'):
            inner = getattr(item, attr, None)
            if inner is not None:
                todo.append(inner)
        owner = getattr(item, '__self__', None)
        if owner is not None and not inspect.ismodule(owner):
            todo.append(owner)
    return found


def _module_of(obj: Any) -> str:
    """The module that defines ``obj`` (``posix`` for ``os.system``)."""
    if inspect.ismodule(obj):
        return obj.__name__
    owner = getattr(obj, '__self__', None)
    if inspect.ismodule(owner):  # a built-in function of a C module
        return owner.__name__
    return getattr(obj, '__module__', None) or ''


def _in_code_running_module(module: str) -> bool:
    parts = module.split('.')
    return any('.'.join(parts[:n]) in _CODE_RUNNING_MODULES
               for n in range(1, len(parts) + 1))


def _describe(obj: Any) -> str:
    """``module.qualname`` of a class or function, else a short repr."""
    name = getattr(obj, '__qualname__', None)
    if isinstance(name, str):
        return f'{_module_of(obj)}.{name}'.lstrip('.')
    text = repr(obj)
    return text if len(text) <= 80 else f'{text[:77]}...'


def untrustable_reason(obj: Any) -> Optional[str]:
    """Why a checkpoint may never be allowed to name ``obj``, if it may not.

    The named object and everything it wraps (``functools.partial``, bound
    and wrapped methods) are checked by identity and by the module that
    defines them, so an alias (``subprocess.os.system`` is ``os.system``)
    changes nothing. Only classes that hold data pass: unpickling calls a
    trusted global with arguments the file chooses.

    Args:
        obj (Any): The object a name resolves to.

    Returns:
        str | None: The reason, or None if ``obj`` may be trusted.
    """
    for item in _unwrap(obj):
        if any(item is builtin for builtin in _CODE_RUNNING_BUILTINS):
            return f'{_describe(item)} runs code or reaches any attribute'
        classes = inspect.getmro(item) if inspect.isclass(item) else (item, )
        for cls in classes:
            if any(cls is file_class for file_class in _FILE_CLASSES):
                return f'{_describe(item)} creates or overwrites files'
            module = _module_of(cls)
            if _in_code_running_module(module):
                return (f'{_describe(item)} comes from {module}, whose '
                        'objects run code, touch files or apply other '
                        'callables')
    if not inspect.isclass(obj):
        return (f'{_describe(obj)} is not a class: a checkpoint calls the '
                'functions it names with arguments of its choosing')
    if issubclass(obj, type):
        return f'{_describe(obj)} is a metaclass: it creates classes'
    if obj.__module__ == 'builtins' and obj not in _DATA_BUILTINS:
        return f'builtins.{obj.__name__} is not a data type'
    return None


def trust_checkpoint_globals(names: Sequence[str]) -> None:
    """Allow checkpoints to pickle the given classes, knowingly.

    Call it from a module listed in the config's ``custom_imports`` when you
    trust every checkpoint you load to use these classes only as intended.
    Each name is imported and the object it names is checked
    (:func:`untrustable_reason`): functions, ``builtins`` other than the data
    types, metaclasses and anything from a module that runs code, touches
    files or applies callables (``os``, ``subprocess``, ``shutil``,
    ``importlib``, ``pickle``, ``functools``, ``operator`` ...) are refused
    under any alias.

    Args:
        names (Sequence[str]): Globals as the refusal message names them,
            ``'module.qualname'`` (e.g. ``'datetime.datetime'``).

    Raises:
        TypeError: If ``names`` is a single string.
        ValueError: If a name cannot be imported or may not be trusted; no
            name is trusted then.

    Example:
        >>> trust_checkpoint_globals(['datetime.datetime'])
    """
    if isinstance(names, str):
        raise TypeError('trust_checkpoint_globals: names must be a list of '
                        f"'module.qualname' strings, got the string {names!r}")
    trusted = []
    for name in names:
        try:
            obj = resolve_global(name)
        except ValueError as error:
            raise ValueError(f'trust_checkpoint_globals: {error}') from None
        reason = untrustable_reason(obj)
        if reason is not None:
            raise ValueError(f'trust_checkpoint_globals: {name!r} can never '
                             f'be trusted: {reason}.')
        trusted.append((obj, name))
    torch.serialization.add_safe_globals(trusted)


def trust_globals_from_env() -> None:
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
