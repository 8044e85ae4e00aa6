"""One loading policy for every checkpoint mmvireid reads.

A PyTorch checkpoint is a pickle, and a pickle can call any function it
names: loading a file with ``weights_only=False`` lets the file run code on
the user's machine. MMEngine 0.10.7 reads checkpoints through
:class:`~mmengine.runner.CheckpointLoader`, whose local loader calls
``torch.load`` without ``weights_only`` (torch >= 2.6 then refuses the
``HistoryBuffer`` and numpy objects of every resume checkpoint) and whose
``http(s)://``, ``torchvision://``, ``open-mmlab://`` and ``mmcls://``
loaders call ``torch.load(..., weights_only=False)``. This module replaces
them all (:func:`install_checkpoint_policy`):

- local files load with ``weights_only=True`` through an allow-list of
  exactly the globals an MMEngine checkpoint pickles
  (:data:`~mmvireid.utils.checkpoint_globals.MMENGINE_CHECKPOINT_GLOBALS`);
  the ``builtins.getattr`` those checkpoints use to reach
  ``HistoryBuffer.min`` & co. is answered by a guarded lookup that returns
  nothing else (``getattr`` itself would let a pickle walk from any allowed
  class to ``object.__subclasses__()``);
- remote files (``http(s)://``, ``torchvision://``, ``open-mmlab://``,
  ``mmcls://``) are downloaded to torch's hub cache, as MMEngine does, and
  then loaded as local files;
- every other scheme registered with MMEngine when the policy is installed
  (``pavi://``, ``s3://`` ...) runs with torch's
  ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` set, which turns the ``torch.load`` of
  its loader into a ``weights_only=True`` load;
- every error names the file and what is wrong with it: refused globals,
  an opcode the weights-only unpickler does not support, an empty or
  truncated file, a file that is not a checkpoint.

A checkpoint that pickles other globals can be opened knowingly, per global
(:func:`~mmvireid.utils.trust_checkpoint_globals`, or
``MMVIREID_TRUSTED_GLOBALS`` for command-line runs); only classes that hold
data can be trusted, never a callable that can run code, under any alias.
Nothing here loads with ``weights_only=False`` or advises it.

The policy is installed explicitly, not by importing mmvireid:
:func:`mmvireid.utils.register_all_modules` and the tools install it.
It relies on names private to torch and MMEngine (listed in
``requirements/runtime.txt``); :func:`install_checkpoint_policy` checks the
versions it was written for.

Example:
    >>> from mmvireid.utils import install_checkpoint_policy
    >>> install_checkpoint_policy()
    >>> # in a module listed in the config's ``custom_imports``
    >>> from mmvireid.utils import trust_checkpoint_globals
    >>> trust_checkpoint_globals(['datetime.datetime'])

    .. code-block:: shell

        MMVIREID_TRUSTED_GLOBALS=datetime.datetime \\
            python tools/train.py CONFIG --resume
"""
import functools
import io
import logging
import os
import os.path as osp
import pickle
import pickletools
import re
import zipfile
from typing import Any, Callable, Dict, List, Optional, Union
from urllib.parse import urlparse

import mmengine
import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info, get_local_rank
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.utils import digit_version

from .checkpoint_globals import (MMENGINE_CHECKPOINT_GLOBALS,
                                 TRUSTED_GLOBALS_ENV, resolve_global,
                                 trust_globals_from_env, untrustable_reason)

#: Versions the policy is written for: it uses torch's ``(object, name)``
#: allow-list entries (torch 2.6), numpy 2's ``numpy._core`` module path and
#: MMEngine 0.10's loader registry and model-zoo helpers.
REQUIRED_VERSIONS = dict(torch='2.6.0', numpy='2.0.0', mmengine='0.10.0')
MMENGINE_BELOW = '0.11.0'


def check_requirements() -> None:
    """Check that torch, numpy and MMEngine have the versions the policy needs.

    Raises:
        RuntimeError: Naming the package, the version found and the one
            needed (``requirements/runtime.txt``).
    """
    found = dict(
        torch=torch.__version__.split('+')[0],
        numpy=np.__version__,
        mmengine=mmengine.__version__)
    problems = [
        f'{name} >= {needed} (found {found[name]})'
        for name, needed in REQUIRED_VERSIONS.items()
        if digit_version(found[name]) < digit_version(needed)
    ]
    if digit_version(found['mmengine']) >= digit_version(MMENGINE_BELOW):
        problems.append(f'mmengine < {MMENGINE_BELOW} (found '
                        f"{found['mmengine']})")
    if problems:
        raise RuntimeError(
            'mmvireid loads checkpoints safely only with '
            f'{"; ".join(problems)}: its checkpoint policy relies on names '
            'of these versions (see requirements/runtime.txt). Install the '
            'versions listed there, e.g. pip install -r '
            'requirements/runtime.txt.')


def _offending_globals(filename: str, message: str) -> List[str]:
    """Globals of a checkpoint that are not allow-listed.

    A zip-format checkpoint is scanned statically, which lists them all; for
    the legacy format the unpickler's message names the first one.
    """
    try:
        return sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except (ValueError, RuntimeError, OSError):  # legacy format, or remote
        return re.findall(r'GLOBAL (\S+) (?:was not an allowed|whose module)',
                          message)[:1]


def _trustable(name: str) -> bool:
    try:
        return untrustable_reason(resolve_global(name)) is None
    except ValueError:
        return False


def _refusal_message(filename: str, error: Exception) -> str:
    """What is wrong with a file the weights-only unpickler refused."""
    message = str(error)
    operand = re.search(r'Unsupported operand (\d+)', message)
    if operand:
        code = chr(int(operand.group(1)))
        name = {op.code: op.name for op in pickletools.opcodes}.get(code, '?')
        return (f'Refused to load checkpoint {filename!r}: its pickle uses '
                f'opcode {name} ({operand.group(1)}), which the weights-only '
                'unpickler does not support (torch.save writes it for '
                'objects other than tensors and plain containers, e.g. '
                'Python bytes). Save the tensors (a state_dict) without '
                'such objects.')
    offending = _offending_globals(filename, message)
    if not offending:
        reason = message.rpartition('WeightsUnpickler error:')[2]
        reason = re.split(r'\n\s*Check the documentation of torch.load',
                          reason)[0]
        reason = (reason.strip().splitlines() or [message])[-1]
        return (f'Refused to load checkpoint {filename!r}: its pickle was '
                f'refused: {reason}.')
    trustable = [name for name in offending if _trustable(name)]
    untrustable = [name for name in offending if name not in trustable]
    text = (f'Refused to load checkpoint {filename!r} with weights_only=True: '
            'it pickles globals outside the allow-list of '
            f'mmvireid.utils.checkpoint: {", ".join(offending)}.\nA pickle '
            'can call any function it names: loading it unrestricted could '
            'run arbitrary code on this machine.')
    if untrustable:
        text += (f'\n{", ".join(untrustable)} can never be allowed (not a '
                 'data class, or one that runs code or touches files): do '
                 'not load this file; get the weights from their source as a '
                 'state_dict of tensors.')
    elif trustable:
        text += (
            '\nIf you trust this file to use these classes only as intended, '
            f'allow them knowingly: set {TRUSTED_GLOBALS_ENV}='
            f'{",".join(trustable)} or call mmvireid.utils.'
            f'trust_checkpoint_globals({trustable!r}) in a module listed in '
            "the config's custom_imports.")
    return text


def _check_file(filename: str) -> None:
    """Refuse an empty or truncated file before torch reads it."""
    size = osp.getsize(filename)
    if size == 0:
        raise RuntimeError(
            f'Checkpoint {filename!r} is empty (0 bytes): an interrupted '
            'write or a full disk leaves such files.')
    with open(filename, 'rb') as f:
        magic = f.read(4)
    if magic == b'PK\x03\x04':
        if not zipfile.is_zipfile(filename):
            raise RuntimeError(
                f'Checkpoint {filename!r} is truncated or damaged ({size} '
                "bytes): its zip archive (torch.save's format) has no central "
                'directory, which is written last; an interrupted write or a '
                'full disk leaves such files.')
    elif not magic.startswith(b'\x80') and not filename.endswith(
            '.safetensors'):
        raise RuntimeError(
            f'{filename!r} is not a checkpoint: it is neither a zip archive '
            'written by torch.save nor a pickle.')


def _load_safely(source: Union[str, io.BytesIO], name: str,
                 map_location: Any) -> Any:
    """``torch.load(source, weights_only=True)``, errors naming ``name``."""
    trust_globals_from_env()
    try:
        return torch.load(
            source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        # from None: torch's own message advises weights_only=False
        raise pickle.UnpicklingError(_refusal_message(name, error)) from None
    except (EOFError, KeyError, ValueError) as error:
        raise RuntimeError(
            f'Cannot load checkpoint {name!r}: it is truncated or not a '
            f'checkpoint ({type(error).__name__}: {error})') from error
    except RuntimeError as error:
        first_line = (str(error).splitlines() or [''])[0]
        damaged = re.search(
            'PytorchStreamReader|inline_container|unexpected EOF|corrupt',
            str(error))
        raise RuntimeError(
            f'Cannot load checkpoint {name!r}'
            f'{": it is truncated or damaged" if damaged else ""} '
            f'({first_line})') from error


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
        RuntimeError: If the file is empty, truncated or not a checkpoint.
        pickle.UnpicklingError: If the checkpoint pickles a global outside
            the allow-list or uses an opcode the weights-only unpickler does
            not support; the message names the file and the reason (torch's
            own error, which advises ``weights_only=False``, is not chained).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    _check_file(filename)
    return _load_safely(filename, filename, map_location)


def download_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """Download ``url`` once into the checkpoint cache; return the file.

    The cache is ``<torch hub dir>/checkpoints`` (``$TORCH_HOME``), as for
    MMEngine's and torch's ``load_url``; a cached file is reused. Under DDP
    the local rank 0 processes download first, the others then read or
    download themselves (a cache that is not shared between nodes).
    :func:`torch.hub.download_url_to_file` writes a temporary file and
    renames it, so an interrupted download leaves no partial file.

    Args:
        url (str): ``http://`` or ``https://`` address.
        model_dir (str, optional): Cache directory. Defaults to the hub's.

    Returns:
        str: Path of the downloaded file.
    """
    name = osp.basename(urlparse(url).path)
    if name in ('', '.', '..'):
        raise ValueError(f'Checkpoint URL {url!r} names no file')
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, name)

    def download():
        if not osp.isfile(cached):
            os.makedirs(model_dir, exist_ok=True)
            print_log(f'Downloading {url} to {cached}', logger='current')
            torch.hub.download_url_to_file(
                url, cached, progress=os.isatty(2))

    _, world_size = get_dist_info()
    if get_local_rank() == 0:
        download()
    if world_size > 1:
        barrier()
        download()
    return cached


def load_from_http_safe(filename: str,
                        map_location: Any = None,
                        model_dir: Optional[str] = None) -> Any:
    """Download an ``http(s)://`` checkpoint to the cache, then load it safely.

    Args:
        filename (str): The URL.
        map_location (Any): Same as :func:`torch.load`. Defaults to None.
        model_dir (str, optional): Cache directory (see
            :func:`download_checkpoint`). Defaults to None.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    cached = download_checkpoint(filename, model_dir)
    try:
        return load_from_local_safe(cached, map_location)
    except (pickle.UnpicklingError, RuntimeError) as error:
        raise type(error)(f'{error}\n(downloaded from {filename})') from error


def _model_zoo_url(scheme: str, name: str, urls: Dict[str, str]) -> str:
    if name not in urls:
        raise KeyError(f'{scheme}{name}: unknown model name; MMEngine knows '
                       f'{len(urls)} names for {scheme}, e.g. '
                       f'{sorted(urls)[:3]}')
    return urls[name]


def load_from_torchvision_safe(filename: str, map_location: Any = None) -> Any:
    """``torchvision://NAME`` (or ``modelzoo://NAME``): download, load safely.

    Args:
        filename (str): ``torchvision://`` + a model name MMEngine knows.
        map_location (Any): Same as :func:`torch.load`. Defaults to None.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    scheme, _, name = filename.partition('://')
    url = _model_zoo_url(f'{scheme}://', name,
                         mmengine_checkpoint.get_torchvision_models())
    return load_from_http_safe(url, map_location)


def load_from_openmmlab_safe(filename: str, map_location: Any = None) -> Any:
    """``open-mmlab://NAME``: MMEngine's model zoo, loaded safely.

    Deprecated names are mapped to their replacements as MMEngine does; the
    zoo entry is a URL (downloaded) or a path under MMEngine's home.

    Args:
        filename (str): ``open-mmlab://`` or ``openmmlab://`` + a name.
        map_location (Any): Same as :func:`torch.load`. Defaults to None.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    scheme, _, name = filename.partition('://')
    deprecated = mmengine_checkpoint.get_deprecated_model_names()
    if name in deprecated:
        print_log(
            f'{scheme}://{name} is deprecated in favour of '
            f'{scheme}://{deprecated[name]}',
            logger='current',
            level=logging.WARNING)
        name = deprecated[name]
    url = _model_zoo_url(f'{scheme}://', name,
                         mmengine_checkpoint.get_external_models())
    if url.startswith(('http://', 'https://')):
        return load_from_http_safe(url, map_location)
    return load_from_local_safe(
        osp.join(mmengine_checkpoint._get_mmengine_home(), url), map_location)


def load_from_mmcls_safe(filename: str, map_location: Any = None) -> Any:
    """``mmcls://NAME``: an mmcls backbone, loaded safely, keys as MMEngine's.

    Args:
        filename (str): ``mmcls://`` + a model name MMEngine knows.
        map_location (Any): Same as :func:`torch.load`. Defaults to None.

    Returns:
        dict: ``dict(state_dict=...)`` with the backbone's weights.
    """
    name = filename[len('mmcls://'):]
    url = _model_zoo_url('mmcls://', name,
                         mmengine_checkpoint.get_mmcls_models())
    return mmengine_checkpoint._process_mmcls_checkpoint(
        load_from_http_safe(url, map_location))


def _forced_weights_only(loader: Callable) -> Callable:
    """Run another scheme's loader with every ``torch.load`` weights-only.

    torch reads ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` at each ``torch.load``
    call, where it overrides an explicit ``weights_only=False``.
    """

    @functools.wraps(loader)
    def load(filename, map_location=None):
        previous = os.environ.get('TORCH_FORCE_WEIGHTS_ONLY_LOAD')
        os.environ['TORCH_FORCE_WEIGHTS_ONLY_LOAD'] = '1'
        trust_globals_from_env()
        try:
            return loader(filename, map_location)
        except pickle.UnpicklingError as error:
            raise pickle.UnpicklingError(_refusal_message(
                filename, error)) from None
        finally:
            if previous is None:
                del os.environ['TORCH_FORCE_WEIGHTS_ONLY_LOAD']
            else:
                os.environ['TORCH_FORCE_WEIGHTS_ONLY_LOAD'] = previous

    load.mmvireid_policy = True
    return load


#: The loader of each MMEngine scheme under the policy.
SAFE_LOADERS = {
    '': load_from_local_safe,
    'http://': load_from_http_safe,
    'https://': load_from_http_safe,
    'torchvision://': load_from_torchvision_safe,
    'modelzoo://': load_from_torchvision_safe,
    'open-mmlab://': load_from_openmmlab_safe,
    'openmmlab://': load_from_openmmlab_safe,
    'mmcls://': load_from_mmcls_safe,
}
for _loader in set(SAFE_LOADERS.values()):
    _loader.mmvireid_policy = True


def install_checkpoint_policy() -> None:
    """Make every checkpoint MMEngine loads go through the policy.

    Checks the versions (:func:`check_requirements`), allow-lists MMEngine's
    checkpoint globals, registers the safe loaders of :data:`SAFE_LOADERS`
    for their MMEngine schemes and wraps every other scheme registered so
    far (``pavi://``, ``s3://``, a plugin's) so that its ``torch.load`` is
    weights-only. Idempotent: call it again after importing a plugin that
    registers a scheme (the tools call it once the config's
    ``custom_imports`` are imported).

    Raises:
        RuntimeError: If torch, numpy or MMEngine has a version the policy
            was not written for.
    """
    check_requirements()
    # A HistoryBuffer registers the default statistics (min, max, current,
    # mean) on creation; do it now, since a resuming process may load a
    # checkpoint before it has created any buffer.
    HistoryBuffer()
    torch.serialization.add_safe_globals(list(MMENGINE_CHECKPOINT_GLOBALS))
    for prefix, loader in SAFE_LOADERS.items():
        CheckpointLoader.register_scheme(prefix, loader, force=True)
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if not getattr(loader, 'mmvireid_policy', False):
            CheckpointLoader.register_scheme(
                prefix, _forced_weights_only(loader), force=True)


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """Load any checkpoint MMEngine can address, under the policy.

    For code that reads a checkpoint itself (tools, inference APIs): the
    policy is installed (idempotent) and the file goes through MMEngine's
    scheme dispatch, so local paths, URLs and model-zoo names all work.

    Args:
        filename (str): Local path, URL, ``torchvision://``, ...
        map_location (Any): Same as :func:`torch.load`. Defaults to 'cpu'.

    Returns:
        dict | OrderedDict: The loaded checkpoint.

    Example:
        >>> ckpt = load_checkpoint_file('work_dirs/agw/epoch_80.pth')
        >>> state_dict = ckpt['state_dict']
    """
    install_checkpoint_policy()
    return CheckpointLoader.load_checkpoint(filename, map_location)
