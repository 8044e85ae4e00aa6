"""Two-stream wrapper around an mmpretrain backbone of a known layout."""
from collections import OrderedDict
from typing import Callable, List, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import load_state_dict
from mmpretrain.models.backbones import (ConvNeXt, EfficientNet,
                                         EfficientNetV2, HRNet, MobileNetV2,
                                         MobileNetV3, ResNet, SwinTransformer,
                                         SwinTransformerV2, VisionTransformer)

from mmvireid.registry import MODELS
from ..utils.modality_specific import ModalitySpecific
from ..utils.pretrained import load_pretrained_state_dict, pop_pretrained

NUM_MODALITIES = 2

#: Units of a layout: the stem's module names, then every stage's.
Units = List[List[str]]


def _resnet_units(net: ResNet) -> Units:
    """Stem (conv + norm, or the deep stem), then ``res_layers``; the ReLU
    and max pooling hold no parameters."""
    stem = ['stem'] if getattr(net, 'deep_stem', False) else \
        ['conv1', net.norm1_name]
    return [stem] + [[name] for name in net.res_layers]


def _vit_units(net: VisionTransformer) -> Units:
    """Patch embedding, then every transformer block (class token and
    position embedding shared)."""
    return [['patch_embed']] + [[f'layers.{i}']
                                for i in range(len(net.layers))]


def _swin_units(net: nn.Module) -> Units:
    """Patch embedding, then every stage: its blocks, its patch merging and
    its output norm (the stage module itself is read by the backbone's
    forward, so its parts are split, not the stage)."""
    units = [['patch_embed']]
    for i, stage in enumerate(net.stages):
        unit = [f'stages.{i}.blocks.{j}' for j in range(len(stage.blocks))]
        if stage.downsample is not None:
            unit.append(f'stages.{i}.downsample')
        if hasattr(net, f'norm{i}'):
            unit.append(f'norm{i}')
        units.append(unit)
    return units


def _convnext_units(net: ConvNeXt) -> Units:
    """The stem (first downsampling layer), then every stage with the
    downsampling layer before it and its output norm."""
    units = [['downsample_layers.0']]
    for i in range(len(net.stages)):
        unit = [f'downsample_layers.{i}'] if i > 0 else []
        unit.append(f'stages.{i}')
        if hasattr(net, f'norm{i}'):
            unit.append(f'norm{i}')
        units.append(unit)
    return units


def _efficientnet_units(net: nn.Module) -> Units:
    """``layers``: the stem convolution, the stages, the last convolution."""
    return [[f'layers.{i}'] for i in range(len(net.layers))]


def _mobilenet_v2_units(net: MobileNetV2) -> Units:
    return [['conv1']] + [[name] for name in net.layers]


def _mobilenet_v3_units(net: MobileNetV3) -> Units:
    """``layers``: ``layer0`` is the stem convolution."""
    return [[name] for name in net.layers]


def _hrnet_units(net: HRNet) -> Units:
    """The two-convolution stem and ``layer1``; later stages take lists of
    branch maps and stay shared."""
    return [['conv1', net.norm1_name, 'conv2', net.norm2_name], ['layer1']]


#: (backbone class, its stem and stages, what cannot be specific or '').
#: Subclasses are covered: ResNetV1c/V1d, ResNeXt, SE-ResNe(X)t, Res2Net,
#: ResNeSt, RegNet, ResNet_CIFAR; DeiT, DeiT3, EVA-02 and CLIP's ViT
#: (``pre_norm=True``).
LAYOUTS: Sequence[Tuple[type, Callable[[nn.Module], Units], str]] = (
    (ResNet, _resnet_units, ''),
    (VisionTransformer, _vit_units, ''),
    (SwinTransformer, _swin_units, ''),
    (SwinTransformerV2, _swin_units, ''),
    (ConvNeXt, _convnext_units, ''),
    (EfficientNet, _efficientnet_units, ''),
    (EfficientNetV2, _efficientnet_units, ''),
    (MobileNetV2, _mobilenet_v2_units, ''),
    (MobileNetV3, _mobilenet_v3_units, ''),
    (HRNet, _hrnet_units,
     'stages 2-4 take lists of branch maps, which cannot be routed'),
)


def stage_units(net: nn.Module) -> Tuple[Units, str]:
    """The stem and stages of a backbone, as lists of module names.

    Args:
        net (nn.Module): A built mmpretrain backbone.

    Returns:
        tuple[list[list[str]], str]: ``units[0]`` the stem's modules,
        ``units[i]`` stage i's; and why the stages after the listed ones
        cannot be specific ('' when every stage is listed).

    Raises:
        TypeError: If the backbone's layout is not known.
    """
    for cls, units, limit in LAYOUTS:
        if isinstance(net, cls):
            return units(net), limit
    known = ', '.join(cls.__name__ for cls, _, _ in LAYOUTS)
    raise TypeError(
        f'TwoStreamBackbone cannot split {type(net).__name__}: it is not a '
        f'subclass of a backbone whose stem and stages it knows ({known}); '
        'use it one-stream (as the model backbone) or wrap one of these')


@MODELS.register_module()
class TwoStreamBackbone(BaseModule):
    """Modality-specific stem and first stages around an mmpretrain backbone.

    The wrapped backbone keeps its own forward; the modules of its stem and
    of its first ``num_specific_stages`` stages are each replaced by a
    :class:`ModalitySpecific` holding one copy per modality (RGB = 0,
    IR = 1), the other modules are shared. Every sample goes through the
    copies of its modality (:func:`route_by_modality`: one sub-batch per
    modality, so in training a copy's BatchNorm statistics come from its
    modality only; the whole batch while a graph is captured for export).

    What is split, by backbone family (subclasses included):

    ==========================  ==========================  =================
    backbone                    stem                        a stage
    ==========================  ==========================  =================
    ResNet family, RegNet       conv1 + norm1 (deep stem)   ``layer{i}``
    VisionTransformer (CLIP,    patch embedding             one block
    DeiT, EVA-02)
    Swin v1 / v2                patch embedding             blocks, merging
    ConvNeXt                    first downsampling          downsampling,
                                                            blocks
    EfficientNet v1 / v2        stem convolution            ``layers[i]``
    MobileNetV2 / V3            stem convolution            ``layer{i}``
    HRNet                       two convolutions            ``layer1`` only
    ==========================  ==========================  =================

    The class token and position embedding of a transformer stay shared.
    A stage's output norm (``norm{i}`` of Swin / ConvNeXt) is split with
    the stage. Parameter names are the backbone's with
    ``streams.<modality>`` after a specific module
    (``backbone.patch_embed.streams.1.projection.weight``).

    Pretrained weights: a ``Pretrained`` ``init_cfg`` written in the wrapped
    backbone's config is read once and loaded into the shared modules and
    into every copy of the specific ones, through the backbone's own
    ``load_state_dict`` (so a ViT's position embedding is interpolated to
    the input size, as when the backbone loads it alone).

    Args:
        backbone (dict): Config of the wrapped mmpretrain backbone.
        num_specific_stages (int): Stages that exist per modality besides
            the stem: 0 = the stem only (AGW; the patch embedding of a
            ViT), k = the stem and the first k stages (blocks of a ViT).
            At least one stage stays shared. Defaults to 0.
        identical_streams (bool): Without a ``Pretrained`` checkpoint, start
            the IR copies as copies of the randomly initialised RGB ones (a
            checkpoint always loads into both). Defaults to True.
        init_cfg (dict, optional): Initialisation of the wrapper itself.

    Shapes:
        - inputs: ``x`` (N, 3, H, W), ``modality`` (N,) long in {0, 1}.
        - outputs: those of the wrapped backbone (a tuple per
          ``out_indices``; ViT-B/16 with ``out_type='cls_token'``:
          ((N, 768), )).

    Example:
        >>> backbone = dict(
        ...     type='TwoStreamBackbone',
        ...     num_specific_stages=0,
        ...     backbone=dict(
        ...         type='VisionTransformer', arch='b', patch_size=16,
        ...         img_size=(288, 144), out_type='cls_token',
        ...         init_cfg=dict(type='Pretrained', prefix='backbone',
        ...                       checkpoint='vit-b16.pth')))
    """

    #: The ReID model passes the per-sample modality to this backbone.
    takes_modality = True

    def __init__(self,
                 backbone: dict,
                 num_specific_stages: int = 0,
                 identical_streams: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        backbone, self.pretrained = pop_pretrained(backbone,
                                                   type(self).__name__)
        self.backbone = MODELS.build(backbone)
        units, limit = stage_units(self.backbone)
        kind = type(self.backbone).__name__
        max_specific = len(units) - 1 if limit else len(units) - 2
        if not 0 <= num_specific_stages <= max_specific:
            reason = f'; its {limit}' if limit else \
                ' (at least one stage stays shared)'
            raise ValueError(
                f'TwoStreamBackbone: num_specific_stages must be in '
                f'[0, {max_specific}] for {kind} with a stem and '
                f'{len(units) - 1} stages{reason}, got {num_specific_stages}')
        self.num_specific_stages = num_specific_stages
        self.identical_streams = identical_streams
        #: Names (in the wrapped backbone) of the modality-specific modules.
        self.specific_modules = [
            name for unit in units[:num_specific_stages + 1] for name in unit
        ]
        for name in self.specific_modules:
            parent, _, child = name.rpartition('.')
            owner = self.backbone.get_submodule(parent)
            setattr(owner, child,
                    ModalitySpecific(getattr(owner, child), NUM_MODALITIES))

    def init_weights(self):
        super().init_weights()
        if self.pretrained is not None:
            self._load_pretrained()
        elif self.identical_streams:
            # Unrelated random streams would map an RGB and an IR image of
            # one person to unrelated places (see TwoStreamResNet): start
            # them from the same weights, as a checkpoint does.
            for module in self._specific():
                for stream in module.streams[1:]:
                    stream.load_state_dict(module.streams[0].state_dict())

    def _specific(self) -> List[ModalitySpecific]:
        return [self.backbone.get_submodule(n) for n in self.specific_modules]

    def _load_pretrained(self):
        """Every key under a specific module goes to each of its copies."""
        owner = type(self).__name__
        state_dict = load_pretrained_state_dict(self.pretrained, owner)
        prefixes = [name + '.' for name in self.specific_modules]

        def to_streams(key: str) -> List[str]:
            for prefix in prefixes:
                if key.startswith(prefix) or key == prefix[:-1]:
                    rest = key[len(prefix):]
                    return [
                        f'{prefix}streams.{m}' + (f'.{rest}' if rest else '')
                        for m in range(NUM_MODALITIES)
                    ]
            return [key]

        mapped = OrderedDict(
            (new, value) for key, value in state_dict.items()
            for new in to_streams(key))
        metadata = getattr(state_dict, '_metadata', None)
        if metadata is not None:
            mapped._metadata = OrderedDict(
                (new, value) for key, value in metadata.items()
                for new in to_streams(key))
        logger = MMLogger.get_current_instance()
        logger.info(f'{owner}: loading {self.pretrained["checkpoint"]} into '
                    f'the shared modules and both copies of '
                    f'{self.specific_modules}')
        load_state_dict(self.backbone, mapped, strict=False, logger=logger)

    def forward(self, x: torch.Tensor,
                modality: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward a batch that mixes modalities.

        Args:
            x (Tensor): Images, (N, 3, H, W).
            modality (Tensor): Modality of every image, (N,), 0 (RGB) or 1
                (IR).

        Returns:
            tuple[Tensor]: The wrapped backbone's outputs.
        """
        # The backbone's own forward calls the specific modules without the
        # modality: hand it to them for this call. Set on the modules (not
        # on a shared object) so that replicas of the model keep their own.
        specific = self._specific()
        for module in specific:
            module.modality = modality
        try:
            return self.backbone(x)
        finally:
            for module in specific:
                module.modality = None
