"""Deep-supervision neck of MCLNet: project every stage map, pool all."""
import copy
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleList

from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB
from ..utils.modality_routing import route_by_modality

MODALITIES = (RGB, IR)


@MODELS.register_module()
class DeepSupervisionNeck(BaseModule):
    """Stage projections and pooling for deep supervision (MCLNet).

    Takes the maps of all residual stages of a (two-stream) backbone. Every
    stage but the last goes through a projection head
    (:class:`SeparableConvProjection` by default) that lifts it to
    ``out_channels`` at the final map's size; the last stage map is used as
    it is. All maps are then pooled, giving one feature per stage.

    The projections of the first ``num_specific_projections`` stages exist
    once per modality (RGB = 0, IR = 1), matching a backbone whose first
    stages are modality-specific: every sample goes through the projection
    of its own modality and the batch order is kept
    (:func:`route_by_modality`, as in :class:`TwoStreamResNet`: one
    sub-batch per modality, so in training a projection's BatchNorm
    statistics come from its modality only; while a graph is captured both
    run on the whole batch). The other projections are shared.

    MCLNet (ResNet-50, last stride 1, 288x144 input): layer1 (256 channels,
    3 blocks) and layer2 (512, 2 blocks) per modality, layer3 (1024, 1 block)
    shared, every feature 2048-d.

    Args:
        in_channels (Sequence[int]): Channels of the stage maps, in order.
            The last one must equal ``out_channels``.
            Defaults to ``(256, 512, 1024, 2048)`` (ResNet-50); ResNet-18/34:
            ``(64, 128, 256, 512)``.
        out_channels (int): Channels of every projected map and feature D.
            Defaults to 2048.
        num_specific_projections (int): Leading stages whose projection
            exists per modality; at most ``len(in_channels) - 1``.
            Defaults to 2.
        projection (dict): Config of a projection head without its channels
            (filled in per stage as ``in_channels``/``out_channels``).
            Defaults to ``dict(type='SeparableConvProjection')``.
        pooling (dict): Pooling of every map: mmpretrain's
            ``GeneralizedMeanPooling`` or ``GlobalAveragePooling``.
            Defaults to GeM with a fixed p = 3.

    Shapes:
        - inputs: ``inputs``, a tuple of S maps (N, C_s, H_s, W_s);
          ``modality`` (N,) long in {0, 1}.
        - outputs: a tuple of S features (f_1, ..., f_S), each (N, D).

    Example:
        >>> neck = dict(
        ...     type='DeepSupervisionNeck',
        ...     in_channels=(256, 512, 1024, 2048),
        ...     out_channels=2048,
        ...     num_specific_projections=2,
        ...     pooling=dict(type='GeneralizedMeanPooling', p=3.0,
        ...                  p_trainable=False))
    """

    #: The ReID model passes the per-sample modality to this neck.
    takes_modality = True

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 out_channels: int = 2048,
                 num_specific_projections: int = 2,
                 projection: dict = dict(type='SeparableConvProjection'),
                 pooling: dict = dict(
                     type='GeneralizedMeanPooling', p=3.0, p_trainable=False),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        in_channels = tuple(in_channels)
        if len(in_channels) < 2 or in_channels[-1] != out_channels:
            raise ValueError(
                'DeepSupervisionNeck: in_channels must list at least 2 stage '
                'channels, the last one equal to out_channels '
                f'({out_channels}), got {in_channels}')
        if not 0 <= num_specific_projections < len(in_channels):
            raise ValueError(
                'DeepSupervisionNeck: num_specific_projections must be in '
                f'[0, {len(in_channels) - 1}] for {len(in_channels)} stages, '
                f'got {num_specific_projections}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_specific_projections = num_specific_projections

        def build_projection(channels: int) -> nn.Module:
            cfg = copy.deepcopy(projection)
            cfg.update(in_channels=channels, out_channels=out_channels)
            return MODELS.build(cfg)

        # projections[s]: a ModuleList with one head per modality for the
        # specific stages, one shared head otherwise.
        self.projections = ModuleList()
        for s, channels in enumerate(in_channels[:-1]):
            if s < num_specific_projections:
                self.projections.append(
                    ModuleList([build_projection(channels)
                                for _ in MODALITIES]))
            else:
                self.projections.append(build_projection(channels))
        self.pooling = MODELS.build(pooling)

    def forward(self, inputs: Sequence[torch.Tensor],
                modality: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Project and pool the stage maps of a batch that mixes modalities.

        Args:
            inputs (Sequence[torch.Tensor]): The S stage maps, each
                (N, C_s, H_s, W_s).
            modality (torch.Tensor): Modality of every sample, shape (N,),
                0 (RGB) or 1 (IR).

        Returns:
            tuple[torch.Tensor]: The S pooled features, each (N, D).
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f'DeepSupervisionNeck: expected {len(self.in_channels)} stage '
                f'maps (in_channels={self.in_channels}), got {len(inputs)}; '
                'set the backbone out_indices to every stage')
        channels = tuple(x.shape[1] for x in inputs)
        if channels != self.in_channels:
            raise ValueError(
                f'DeepSupervisionNeck: stage maps have channels {channels}, '
                f'expected in_channels={self.in_channels}')
        maps = []
        for s, projection in enumerate(self.projections):
            if s < self.num_specific_projections:
                maps.append(
                    route_by_modality(
                        inputs[s],
                        modality,
                        projection,
                        owner=type(self).__name__))
            else:
                maps.append(projection(inputs[s]))
        maps.append(inputs[-1])
        return self.pooling(tuple(maps))
