"""Multi-process runs on machines without a GPU."""
import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` run on CPU with the ``gloo`` backend.

    MMEngine 0.10.7's pytorch launcher calls ``torch.cuda.set_device`` and
    wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without
    a GPU. When no GPU is visible this initialises the ``gloo`` process group
    from torchrun's environment (the runner then skips its own
    initialisation) and wraps the model with ``device_ids=None``. With a GPU
    it does nothing.

    Args:
        cfg (Config): The full config; ``cfg.launcher`` must be set.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def teardown_distributed() -> None:
    """Destroy the process group at the end of a tool.

    Left to interpreter exit, the gloo process group's threads can abort the
    process ("terminate called without an active exception") after the work
    is done, which makes a finished run exit with an error.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
