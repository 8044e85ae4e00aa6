"""A ``Pretrained`` init_cfg that a two-stream backbone loads itself.

MMEngine's ``PretrainedInit`` loads one checkpoint into one module under one
prefix; a two-stream backbone needs the same checkpoint in every copy of its
modality-specific parts, so it takes the ``Pretrained`` entry off the wrapped
backbone's config and reads the checkpoint itself.
"""
import copy
from typing import Dict, Optional, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def pop_pretrained(backbone: dict,
                   owner: str) -> Tuple[dict, Optional[dict]]:
    """Split the ``Pretrained`` entry off a backbone config's init_cfg.

    Args:
        backbone (dict): Config of the wrapped backbone (not modified).
        owner (str): Name of the caller, for error messages.

    Returns:
        tuple[dict, dict | None]: The config without the ``Pretrained``
        entry (other initialisations are per-module and stay), and that
        entry, or None.
    """
    backbone = copy.deepcopy(backbone)
    init_cfg = backbone.pop('init_cfg', None)
    entries = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    pretrained = [
        e for e in entries if e is not None and e.get('type') == 'Pretrained'
    ]
    if len(pretrained) > 1:
        raise ValueError(f'{owner}: the backbone init_cfg has '
                         f'{len(pretrained)} Pretrained entries, expected at '
                         'most one')
    others = [e for e in entries if e is not None and e not in pretrained]
    if others:
        backbone['init_cfg'] = others if isinstance(init_cfg,
                                                    list) else others[0]
    return backbone, (pretrained[0] if pretrained else None)


def load_pretrained_state_dict(pretrained: dict,
                               owner: str) -> Dict[str, torch.Tensor]:
    """The state dict a ``Pretrained`` init_cfg names.

    Args:
        pretrained (dict): ``checkpoint`` (path or URL), optionally
            ``prefix`` (keep the keys under it, without it) and
            ``map_location`` (default ``'cpu'``).
        owner (str): Name of the caller, for error messages.

    Returns:
        dict[str, Tensor]: The checkpoint's ``state_dict`` (or the
        checkpoint itself when it is one); with a prefix, without the
        ``_metadata`` (as MMEngine's ``PretrainedInit`` does).
    """
    ckpt = CheckpointLoader.load_checkpoint(
        pretrained['checkpoint'],
        map_location=pretrained.get('map_location', 'cpu'))
    state_dict = ckpt.get('state_dict', ckpt)
    prefix = pretrained.get('prefix')
    if not prefix:
        return state_dict
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    selected = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    if not selected:
        raise ValueError(f'{owner}: no key of {pretrained["checkpoint"]} '
                         f'starts with the prefix {prefix!r}')
    return selected
