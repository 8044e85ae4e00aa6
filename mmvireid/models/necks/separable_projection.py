"""Separable-conv projection head of MCLNet's deep supervision."""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import DepthwiseSeparableConvModule
from mmengine.model import BaseModule

from mmvireid.registry import MODELS


@MODELS.register_module()
class SeparableConvProjection(BaseModule):
    """Stack of separable-conv blocks that lifts a stage map to the final one.

    The auxiliary projection head of MCLNet (its ``SepConv``, from contrastive
    deep supervision; MCLNet ``model/resnet.py`` L28–42, L132–163). Each
    block doubles the channels::

        depthwise 3x3 (stride s) -> 1x1 (C -> C)  -> BN -> ReLU ->
        depthwise 3x3 (stride 1) -> 1x1 (C -> 2C) -> BN -> ReLU

    so ``num_blocks = log2(out_channels / in_channels)``. Every block has
    stride 2, as the released ``SepConv`` (its default ``stride=2``); for a
    288x144 input to ResNet-50 (last stride 1, layer4 at 18x9) the
    auxiliary maps end at 9x5:

    ============  ==================  ===========  ===================
    stage         input               num_blocks   output
    ============  ==================  ===========  ===================
    layer1        (N, 256, 72, 36)    3            (N, 2048, 9, 5)
    layer2        (N, 512, 36, 18)    2            (N, 2048, 9, 5)
    layer3        (N, 1024, 18, 9)    1            (N, 2048, 9, 5)
    ============  ==================  ===========  ===================

    ``last_stride=1`` keeps the last block at stride 1, which ends every map at
    layer4's 18x9: the three heads of MCLNet at 288x144 then cost 1.93 instead
    of 0.82 GMAC per training image, and backbone plus heads 7.06 instead of
    5.95 GMAC (+19 %, ``torch.utils.flop_counter``). ResNet-18/34 widths work
    the same way (``in_channels=64``, ``out_channels=512``: 3 blocks). The head
    returns the map; pooling is the model's.

    Args:
        in_channels (int): Channels of the input map.
        out_channels (int): Channels of the output map; ``in_channels``
            times a power of 2 (at least 2). Defaults to 2048.
        last_stride (int): Stride of the last block (1 or 2); every other
            block has stride 2. Defaults to 2 (the released code).
        kernel_size (int): Kernel size of the depthwise convs. Defaults to 3.
        norm_cfg (dict): Norm layer after each 1x1 conv.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation after each norm layer.
            Defaults to ``dict(type='ReLU')``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Example:
        >>> neck = dict(type='SeparableConvProjection', in_channels=256,
        ...             out_channels=2048)  # layer1 of ResNet-50
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 2048,
                 last_stride: int = 2,
                 kernel_size: int = 3,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        ratio = out_channels / in_channels
        num_blocks = round(math.log2(ratio)) if ratio >= 2 else 0
        if num_blocks < 1 or in_channels * 2**num_blocks != out_channels:
            raise ValueError(
                'SeparableConvProjection: out_channels must be in_channels '
                'times a power of 2 (>= 2), got in_channels='
                f'{in_channels}, out_channels={out_channels}')
        if last_stride not in (1, 2):
            raise ValueError('SeparableConvProjection: last_stride must be 1 '
                             f'or 2, got {last_stride!r}')
        self.num_blocks = num_blocks
        #: Stride of the first depthwise conv of each block.
        self.strides = (2, ) * (num_blocks - 1) + (last_stride, )

        blocks = []
        channels = in_channels
        for stride in self.strides:
            blocks.append(
                nn.Sequential(
                    self._separable_conv(channels, channels, kernel_size,
                                         stride, norm_cfg, act_cfg),
                    self._separable_conv(channels, 2 * channels, kernel_size,
                                         1, norm_cfg, act_cfg)))
            channels *= 2
        self.blocks = nn.Sequential(*blocks)

    @staticmethod
    def _separable_conv(in_channels: int, out_channels: int, kernel_size: int,
                        stride: int, norm_cfg: dict,
                        act_cfg: dict) -> DepthwiseSeparableConvModule:
        """Depthwise conv (no norm, no activation, no bias) -> 1x1 conv ->
        norm -> activation."""
        return DepthwiseSeparableConvModule(in_channels,
                                            out_channels,
                                            kernel_size,
                                            stride=stride,
                                            padding=kernel_size // 2,
                                            norm_cfg=norm_cfg,
                                            act_cfg=act_cfg,
                                            dw_norm_cfg=None,
                                            dw_act_cfg=None,
                                            bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project a stage map.

        Args:
            x (torch.Tensor): Map of shape (N, in_channels, H, W).

        Returns:
            torch.Tensor: Map of shape (N, out_channels, H', W'), each
            stride-s block dividing H and W by s (rounding up).
        """
        return self.blocks(x)
