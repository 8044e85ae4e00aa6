"""One copy of a module per modality, called in its place."""
import copy
from typing import Any, Optional

import torch
import torch.nn as nn
from mmengine.model import ModuleList

from mmvireid.structures import MODALITY_NAMES
from .modality_routing import route_by_modality


class ModalitySpecific(nn.Module):
    """Stand-in for a module of a backbone, with one copy per modality.

    Called as the module it replaces (``module(x, *args, **kwargs)``), it
    sends every sample of ``x`` through the copy of its modality
    (:func:`route_by_modality`); the other arguments go to the copy as they
    are. The modality of the batch is set by the owner of the backbone
    (:class:`TwoStreamBackbone`) around the backbone's forward, because the
    backbone's own forward, which calls this module, does not pass it.

    Plain attributes of the module (``init_out_size`` of a patch embedding,
    ``out_channels`` of a patch merging) stay readable: they are the same
    for every copy. Its submodules, parameters and buffers are not: each
    copy has its own, which a caller reaching into the module would not
    expect.

    Args:
        module (nn.Module): The module; it serves the first modality (RGB),
            a deep copy of it each other one.
        num_modalities (int): Number of copies. Defaults to 2 (RGB, IR).

    Shapes:
        As the module's; the first positional input is (N, ...) and every
        tensor the module returns is (N, ...).

    Example:
        >>> net.patch_embed = ModalitySpecific(net.patch_embed)
        >>> net.patch_embed.modality = modality   # (N,) long
        >>> tokens, grid = net.patch_embed(images)
    """

    def __init__(self, module: nn.Module, num_modalities: int = 2):
        super().__init__()
        self.streams = ModuleList(
            [module] +
            [copy.deepcopy(module) for _ in range(num_modalities - 1)])
        #: (N,) modality of the batch being forwarded, else None.
        self.modality: Optional[torch.Tensor] = None

    def forward(self, x: torch.Tensor, *args, **kwargs) -> Any:
        if self.modality is None:
            raise RuntimeError(
                f'ModalitySpecific({type(self.streams[0]).__name__}) was '
                'called without a modality: it is called by the forward of '
                'a TwoStreamBackbone, which sets the modality of the batch')
        return route_by_modality(
            x,
            self.modality,
            [
                lambda part, stream=stream: stream(part, *args, **kwargs)
                for stream in self.streams
            ],
            owner=f'ModalitySpecific({type(self.streams[0]).__name__})')

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            streams = self.__dict__.get('_modules', {}).get('streams')
            if streams is None:  # not built yet
                raise
        value = getattr(streams[0], name)
        if isinstance(value, (nn.Module, torch.Tensor)):
            names = ', '.join(MODALITY_NAMES[m] for m in range(len(streams)))
            raise AttributeError(
                f'{name!r} of {type(streams[0]).__name__} is '
                f'modality-specific (one per stream: {names}); read it from '
                '.streams[m]')
        return value
