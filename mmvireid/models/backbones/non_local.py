"""The non-local block of the AGW baseline."""
from mmcv.cnn import NonLocal2d
from mmengine.model import constant_init

from mmvireid.registry import MODELS


@MODELS.register_module()
class NonLocalBlock(NonLocal2d):
    """Non-local attention block as the AGW baseline inserts it.

    The ``Non_local`` module of AGW (Ye et al., TPAMI 2021;
    ``mangye16/Cross-Modal-Re-ID-baseline`` ``model.py`` L16–68) is mmcv's
    :class:`~mmcv.cnn.NonLocal2d` in ``'dot_product'`` mode with a BatchNorm
    after the output conv::

        z = x + BN(W(y)),  y_i = (1 / HW) sum_j (theta(x_i) . phi(x_j)) g(x_j)

    with 1x1 convs ``theta``, ``phi``, ``g`` (C -> ``inter_channels``, with
    bias) and ``W`` (``inter_channels`` -> C). This subclass only sets those
    choices and AGW's initialisation: the BN of the output starts at weight
    and bias 0 (the block starts as the identity, as in mmcv), and the convs
    keep PyTorch's default initialisation as in AGW (mmcv draws ``theta``,
    ``phi``, ``g`` from N(0, 0.01²) with zero bias). ``W`` has no bias here;
    the BN after it makes one redundant.

    The released code sets ``inter_channels = reduc_ratio // reduc_ratio``,
    i.e. 1 whatever the width (``model.py`` L21); the Non-local paper's C/2
    is ``inter_channels=in_channels // 2``.

    Args:
        in_channels (int): Channels C of the map.
        inter_channels (int): Channels of ``theta``, ``phi`` and ``g``; a
            divisor of ``in_channels``. Defaults to 1 (the released AGW).
        norm_cfg (dict): Norm after the output conv.
            Defaults to ``dict(type='BN')``.

    Shapes:
        - input / output: (N, C, H, W).

    Example:
        >>> # five blocks after the last 2 blocks of layer2 and the last 3
        >>> # of layer3, as AGW's --method agw (TwoStreamResNet option)
        >>> backbone = dict(type='TwoStreamResNet',
        ...                 non_local_blocks=(0, 2, 3, 0),
        ...                 non_local_cfg=dict(type='NonLocalBlock'),
        ...                 backbone=dict(type='ResNet', depth=50))
    """

    def __init__(self,
                 in_channels: int,
                 inter_channels: int = 1,
                 norm_cfg: dict = dict(type='BN')) -> None:
        if not (isinstance(inter_channels, int) and inter_channels >= 1
                and in_channels % inter_channels == 0):
            raise ValueError(
                'NonLocalBlock: inter_channels must be a positive divisor of '
                f'in_channels ({in_channels}), got {inter_channels!r}')
        super().__init__(
            in_channels,
            reduction=in_channels // inter_channels,
            norm_cfg=norm_cfg,
            mode='dot_product')

    def init_weights(self) -> None:
        """PyTorch's default initialisation of the convs (as AGW), and the
        output BN at 0 so that the block starts as the identity."""
        for module in (self.g, self.theta, self.phi, self.conv_out):
            module.conv.reset_parameters()
        constant_init(self.conv_out.norm, 0)
