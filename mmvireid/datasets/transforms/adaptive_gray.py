"""CAJ's adaptive gray: a random channel, the gray image or the image."""
from typing import Optional

import numpy as np
from mmcv.transforms.utils import cache_randomness

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import IR
from .base_channel_transform import GRAY, BaseChannelTransform, ModalitiesType


@TRANSFORMS.register_module()
class ChannelAdapGray(BaseChannelTransform):
    """Replace the image by a random channel, by its gray version, or keep it.

    The ``ChannelAdapGray`` of Ye et al., "Channel Augmented Joint Learning
    for Visible-Infrared Recognition" (CAJ, ICCV 2021), code
    ``ChannelAug.py``, which CAJ applies to the infrared images: draw ``idx``
    uniformly from ``{0, 1, 2, 3}``; ``idx`` 0, 1 or 2 copies that channel to
    all three; ``idx`` 3 gives the gray image with probability ``gray_prob``
    and keeps the image otherwise. So each channel comes out with
    probability 1/4, gray with ``gray_prob``/4 and the unchanged image with
    (1 - ``gray_prob``)/4.

    As with :class:`ChannelExchange`, the gray is computed on the pixels
    before normalisation (CAJ computes it on the normalised tensor).

    **Required Keys:** ``img`` (H, W, 3), ``modality``.

    **Modified Keys:** ``img`` (H, W, 3).

    Args:
        gray_prob (float): Probability of gray (rather than keeping the
            image) when ``idx`` is 3; CAJ's ``probability``. Defaults to 0.5.
        modalities (int | str | Sequence[int | str]): Modalities it applies
            to. Defaults to ``(IR,)``.
        color_format (str): ``'bgr'`` or ``'rgb'``, channel order of ``img``
            (only the gray weights depend on it). Defaults to ``'bgr'``.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage'),
        ...     dict(type='ChannelAdapGray', gray_prob=0.5, modalities=['ir']),
        ...     dict(type='PackVIReIDInputs'),
        ... ]
    """

    REPR_ARGS = ('gray_prob', )

    def __init__(self,
                 gray_prob: float = 0.5,
                 modalities: ModalitiesType = (IR, ),
                 color_format: str = 'bgr') -> None:
        super().__init__(modalities, color_format)
        if not 0.0 <= gray_prob <= 1.0:
            raise ValueError('ChannelAdapGray: gray_prob must be in [0, 1], '
                             f'got {gray_prob!r}')
        self.gray_prob = gray_prob

    @cache_randomness
    def _random_op(self) -> Optional[int]:
        op = np.random.randint(GRAY + 1)
        if op == GRAY and np.random.rand() >= self.gray_prob:
            return None
        return op
