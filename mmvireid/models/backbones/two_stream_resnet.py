"""Two-stream wrapper around any mmpretrain ResNet-family backbone."""
from functools import partial
from typing import List, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList

from mmvireid.registry import MODELS
from ..utils.modality_routing import route_by_modality
from ..utils.pretrained import load_pretrained_state_dict, pop_pretrained

NUM_MODALITIES = 2


def _stem(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run the stem (conv or deep stem, then max pooling) of a ResNet."""
    if net.deep_stem:
        x = net.stem(x)
    else:
        x = net.relu(net.norm1(net.conv1(x)))
    return net.maxpool(x)


def _stem_names(net: nn.Module) -> List[str]:
    if net.deep_stem:
        return ['stem', 'maxpool']
    return ['conv1', net.norm1_name, 'relu', 'maxpool']


@MODELS.register_module()
class TwoStreamResNet(BaseModule):
    """Modality-specific first stages, shared later stages (AGW / MCLNet).

    The wrapped backbone is any mmpretrain backbone of the ResNet family
    (``ResNet``, ``ResNetV1c``, ``ResNetV1d``, ``ResNeXt``, ``SEResNet``,
    ``SEResNeXt``, ...): a stem followed by ``res_layers``. One copy of the
    stem and of the first ``num_specific_stages`` residual stages exists per
    modality (RGB = 0, IR = 1); the remaining stages are shared. Every
    sample is routed through the stream of its own modality and the batch
    order is kept (:func:`route_by_modality`): the images of a modality go
    through their stream as one sub-batch, so in training a stream's
    BatchNorm statistics come from its modality only, while those of the
    shared stages see both modalities of the batch; while a graph is
    captured (``torch.export`` / ONNX) both streams run on the whole batch
    and every image takes its stream's maps, which keeps shapes static.

    The copies are mmpretrain modules whose unused parts are replaced by
    ``nn.Identity``, so their parameter names are the backbone's own
    (``streams.0.conv1.weight``, ``shared.layer4.0.conv1.weight``).

    Pretrained weights: a ``Pretrained`` ``init_cfg`` written in the wrapped
    backbone's config (as for any mmpretrain backbone) is read once and
    loaded into every copy (both streams and the shared part). MMEngine's
    ``PretrainedInit`` cannot do this: it loads one checkpoint into one
    module under one prefix.

    Args:
        backbone (dict): Config of the wrapped backbone. Its ``out_indices``
            (indices of residual stages, 0 = ``layer1``) select the outputs.
        num_specific_stages (int): Residual stages that exist per modality
            besides the stem: 0 = stem only (AGW), 2 = stem + layer1 + layer2
            (MCLNet). Defaults to 0.
        identical_streams (bool): Without a ``Pretrained`` checkpoint,
            start the IR stream as a copy of the randomly initialised RGB
            stream (a checkpoint always loads into both). Defaults to True.
        init_cfg (dict, optional): Initialisation of the wrapper itself.

    Shapes:
        - inputs: ``x`` (N, 3, H, W), ``modality`` (N,) long in {0, 1}.
        - outputs: a tuple with one (N, C_i, H_i, W_i) map per out index
          (ResNet-50, last stride 1, 288x144 input: (N, 2048, 18, 9)).

    Example:
        >>> backbone = dict(
        ...     type='TwoStreamResNet',
        ...     num_specific_stages=0,
        ...     backbone=dict(
        ...         type='ResNet', depth=50, strides=(1, 2, 2, 1),
        ...         init_cfg=dict(type='Pretrained',
        ...                       checkpoint='torchvision://resnet50')))
    """

    #: The ReID model passes the per-sample modality to this backbone.
    takes_modality = True

    def __init__(self,
                 backbone: dict,
                 num_specific_stages: int = 0,
                 identical_streams: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.identical_streams = identical_streams
        backbone, self.pretrained = pop_pretrained(backbone,
                                                   type(self).__name__)

        self.streams = ModuleList(
            [MODELS.build(backbone) for _ in range(NUM_MODALITIES)])
        self.shared = MODELS.build(backbone)
        stage_names = list(self.shared.res_layers)
        if not 0 <= num_specific_stages < len(stage_names):
            raise ValueError(
                f'TwoStreamResNet: num_specific_stages must be in '
                f'[0, {len(stage_names) - 1}] for a backbone with '
                f'{len(stage_names)} residual stages, got '
                f'{num_specific_stages}')
        self.num_specific_stages = num_specific_stages
        self.out_indices = tuple(self.shared.out_indices)

        for name in (_stem_names(self.shared) +
                     stage_names[:num_specific_stages]):
            setattr(self.shared, name, nn.Identity())
        for stream in self.streams:
            for name in stage_names[num_specific_stages:]:
                setattr(stream, name, nn.Identity())

    def init_weights(self):
        super().init_weights()
        if self.pretrained is not None:
            self._load_pretrained()
        elif self.identical_streams:
            # Without a checkpoint the streams would start as two unrelated
            # random functions, so an RGB and an IR image of the same person
            # would land in unrelated places (cross-modality retrieval of
            # the untrained model at chance, nothing for clustering-based
            # association to start from). Start them as a pretrained init
            # does: from the same weights.
            self.streams[1].load_state_dict(self.streams[0].state_dict())

    def _load_pretrained(self):
        logger = MMLogger.get_current_instance()
        state_dict = load_pretrained_state_dict(self.pretrained,
                                                type(self).__name__)
        parts = [('rgb stream', self.streams[0]),
                 ('ir stream', self.streams[1]),
                 ('shared stages', self.shared)]
        used = set()
        for part_name, part in parts:
            own = part.state_dict()
            matched = {k: v for k, v in state_dict.items() if k in own}
            missing = sorted(set(own) - set(matched))
            part.load_state_dict(matched, strict=False)
            used.update(matched)
            logger.info(f'TwoStreamResNet: {part_name} loaded {len(matched)} '
                        f'tensors from {self.pretrained["checkpoint"]}')
            if missing:
                logger.warning(f'TwoStreamResNet: {part_name} missing in '
                               f'the checkpoint: {missing}')
        unused = sorted(set(state_dict) - used)
        if unused:
            logger.info(f'TwoStreamResNet: checkpoint keys used by no part '
                        f'(e.g. the ImageNet classifier): {unused}')

    def forward(self, x: torch.Tensor,
                modality: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward a batch that mixes modalities.

        Every image goes through the stem and specific stages of its
        modality's stream (:func:`route_by_modality`: one sub-batch per
        modality, the whole batch while a graph is captured), then the
        whole batch, in its order, through the shared stages.

        Args:
            x (Tensor): Images, shape (N, 3, H, W).
            modality (Tensor): Modality of every image, shape (N,), 0 (RGB)
                or 1 (IR).

        Returns:
            tuple[Tensor]: The maps of the stages in ``out_indices``.
        """
        # specific[0] is the stem's map, specific[i] the map of layer i
        specific = route_by_modality(
            x,
            modality,
            [partial(self._specific_maps, stream) for stream in self.streams],
            owner=type(self).__name__)
        outs = []
        h = specific[-1]
        for i, name in enumerate(self.shared.res_layers):
            if i < self.num_specific_stages:
                stage_out = specific[i + 1]
            else:
                h = getattr(self.shared, name)(h)
                stage_out = h
            if i in self.out_indices:
                outs.append(stage_out)
        return tuple(outs)

    def _specific_maps(self, stream: nn.Module,
                       x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The maps of the stem and of the specific stages of ``stream``."""
        maps = [_stem(stream, x)]
        for name in stream.res_layers[:self.num_specific_stages]:
            maps.append(getattr(stream, name)(maps[-1]))
        return tuple(maps)
