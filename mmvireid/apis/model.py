"""Load trained weights into a model built from its config."""
import os.path as osp
import re
from typing import Optional

from mmengine.runner import load_checkpoint
from torch import nn

#: How many key names an error message quotes per kind of problem.
_NUM_EXAMPLES = 5


def load_weights(model: nn.Module,
                 checkpoint: str,
                 config: Optional[str] = None) -> dict:
    """Load a checkpoint into ``model``, refusing any mismatch.

    MMEngine's :func:`~mmengine.runner.load_checkpoint` with
    ``strict=True``: the file goes through the checkpoint policy that
    :mod:`mmvireid.apis` installs (``weights_only`` loading with an
    allow-list), a DDP ``module.`` prefix is stripped, BatchNorm
    ``num_batches_tracked`` counters may be absent, and the memory banks and
    pseudo-labels of unsupervised models take the size saved in the
    checkpoint (their ``_load_from_state_dict`` resizes them). Any other
    missing, unexpected or mis-shaped weight raises an error naming the
    checkpoint, the config and the first keys of each kind.

    Args:
        model (nn.Module): The model built from the config (not wrapped).
        checkpoint (str): Path or URL of the checkpoint.
        config (str, optional): The config's path, for the messages.

    Returns:
        dict: The checkpoint (``state_dict``, ``meta`` and the rest).

    Raises:
        FileNotFoundError: If a local ``checkpoint`` is not a file.
        ValueError: If it holds no state dict, or one that does not match.

    Example:
        >>> model = MODELS.build(cfg.model)
        >>> load_weights(model, 'work_dirs/agw_r50_sysu/epoch_80.pth',
        ...              cfg.filename)
    """
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r}: no such file')
    try:
        return load_checkpoint(model, checkpoint, map_location='cpu',
                               strict=True)
    except RuntimeError as error:
        message = str(error)
        if message.startswith('No state_dict found'):
            raise ValueError(
                f'checkpoint {checkpoint!r} holds no state dict: expected an '
                "MMEngine checkpoint (a dict with 'state_dict') or a plain "
                'state dict of tensors') from error
        if not message.startswith('The model and loaded state dict do not'):
            raise
        raise ValueError(
            f'checkpoint {checkpoint!r} does not match the model built from '
            f'{f"config {config!r}" if config else "the config"} '
            f'({type(model).__name__}): ' + _summary(message) +
            '. Use the config the checkpoint was trained with, or adjust the '
            'model with --cfg-options (e.g. model.head.num_classes=N).'
        ) from error


def _summary(message: str) -> str:
    """Counts and first keys of the problems in MMEngine's strict-loading
    message (its ``load_state_dict`` lists every key)."""
    missing, unexpected, mismatched = [], [], []
    for line in message.splitlines():
        if line.startswith('missing keys in source state_dict: '):
            missing += line.split(': ', 1)[1].split(', ')
        elif line.startswith('unexpected key in source state_dict: '):
            unexpected += line.split(': ', 1)[1].split(', ')
        for key, saved, current in re.findall(
                r'size mismatch for (\S+): copying a param with shape '
                r'torch.Size\((\[.*?\])\) from checkpoint, the shape in '
                r'current model is torch.Size\((\[.*?\])\)', line):
            mismatched.append(f'{key}: checkpoint {_shape(saved)} vs model '
                              f'{_shape(current)}')
    kinds = (('missing weights', missing), ('unexpected weights', unexpected),
             ('shape mismatches', mismatched))
    problems = [
        f'{len(names)} {what} (e.g. {", ".join(names[:_NUM_EXAMPLES])})'
        for what, names in kinds if names
    ]
    return '; '.join(problems) if problems else message


def _shape(text: str) -> str:
    """``'[8, 3, 1, 1]'`` as ``'(8, 3, 1, 1)'``."""
    return str(tuple(int(n) for n in re.findall(r'\d+', text)))
