"""Multi-process runs on machines without a GPU."""
import contextlib
import datetime
from typing import Iterator, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import get_rank


def dist_timeout(cfg: Config) -> Optional[float]:
    """``env_cfg.dist_cfg.timeout`` in seconds, checked; None if unset.

    Args:
        cfg (Config): The full config.

    Returns:
        float | None: The timeout of every collective operation.

    Raises:
        ValueError: If it is set but not a positive number.
    """
    timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(
            timeout, (int, float)) or timeout <= 0:
        raise ValueError('env_cfg.dist_cfg.timeout must be a positive number '
                         f'of seconds, got {timeout!r}')
    return float(timeout)


def setup_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` run on CPU with the ``gloo`` backend.

    MMEngine 0.10.7's pytorch launcher calls ``torch.cuda.set_device`` and
    wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without
    a GPU. When no GPU is visible this initialises the ``gloo`` process group
    from torchrun's environment with the config's
    ``env_cfg.dist_cfg.timeout`` (seconds; gloo's default is 30 minutes), so
    that a frozen rank fails the job within it (the runner then skips its own
    initialisation), and wraps the model with ``device_ids=None``. With a GPU
    it does nothing: MMEngine passes the timeout to NCCL itself.

    Args:
        cfg (Config): The full config; ``cfg.launcher`` must be set.

    Example:
        >>> env_cfg = dict(dist_cfg=dict(backend='nccl', timeout=1800))
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    timeout = dist_timeout(cfg)
    if not torch_dist.is_initialized():
        kwargs = {} if timeout is None else dict(
            timeout=datetime.timedelta(seconds=timeout))
        torch_dist.init_process_group(backend='gloo', **kwargs)
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


#: Words of the errors gloo and NCCL raise when a collective times out or
#: its peer is gone.
_PEER_FAILURE = ('timed out', 'timeout', 'connection reset',
                 'connection closed')


@contextlib.contextmanager
def explain_collective_timeout(cfg: Config) -> Iterator[None]:
    """Re-raise a collective's timeout with what it means and the config key.

    gloo reports a frozen or dead peer as e.g. ``Timed out waiting 5000ms
    for recv operation to complete`` from inside a backward pass; this
    names the rank, the timeout and ``env_cfg.dist_cfg.timeout``.

    Args:
        cfg (Config): The full config.

    Example:
        >>> with explain_collective_timeout(cfg):
        ...     runner.train()
    """
    try:
        yield
    except RuntimeError as error:
        if not (torch_dist.is_available() and torch_dist.is_initialized()
                and any(word in str(error).lower()
                        for word in _PEER_FAILURE)):
            raise
        timeout = dist_timeout(cfg)
        limit = ('the default timeout' if timeout is None else
                 f'env_cfg.dist_cfg.timeout={timeout:g} s')
        raise RuntimeError(
            f'rank {get_rank()}: a collective operation did not complete '
            f'within {limit}: another process is frozen or has died (see its '
            f'log). Raise env_cfg.dist_cfg.timeout if a step legitimately '
            f'takes longer.\n{str(error).splitlines()[0]}') from error


def teardown_distributed() -> None:
    """Destroy the process group at the end of a tool.

    Left to interpreter exit, the gloo process group's threads can abort the
    process ("terminate called without an active exception") after the work
    is done, which makes a finished run exit with an error.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
