"""CAJ's channel exchange: one random colour channel replicated to three."""
from typing import Optional

import numpy as np
from mmcv.transforms.utils import cache_randomness

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import RGB
from .base_channel_transform import GRAY, BaseChannelTransform, ModalitiesType


@TRANSFORMS.register_module()
class ChannelExchange(BaseChannelTransform):
    """Replace the image by one random colour channel replicated to three.

    The ``ChannelExchange`` of Ye et al., "Channel Augmented Joint Learning
    for Visible-Infrared Recognition" (CAJ, ICCV 2021), code
    ``ChannelAug.py``: draw ``idx`` uniformly from ``{0, ..., gray}``;
    ``idx`` 0, 1 or 2 copies that channel to all three, a larger ``idx``
    replaces the image by its gray version. ``gray=2`` (CAJ's default) always
    gives a single channel, ``gray=3`` gives gray one time in four.

    Differences from CAJ: it runs on the HWC pixels before normalisation
    (the data preprocessor normalises), so the gray is the luminance of the
    pixels rather than of the normalised tensor; ``prob`` < 1 keeps some
    images unchanged (CAJ applies it to a second copy of every RGB image).

    **Required Keys:** ``img`` (H, W, 3), ``modality``.

    **Modified Keys:** ``img`` (H, W, 3).

    Args:
        gray (int): Upper end of the draw; ``idx`` > 2 means gray. Must be
            >= 2. Defaults to 2.
        prob (float): Probability that the image is replaced at all.
            Defaults to 1.0.
        modalities (int | str | Sequence[int | str]): Modalities it applies
            to. Defaults to ``(RGB,)``.
        color_format (str): ``'bgr'`` or ``'rgb'``, channel order of ``img``
            (only the gray weights depend on it). Defaults to ``'bgr'``.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage'),
        ...     dict(type='ChannelExchange', gray=2, prob=0.5,
        ...          modalities=['rgb']),
        ...     dict(type='PackVIReIDInputs'),
        ... ]
    """

    REPR_ARGS = ('gray', 'prob')

    def __init__(self,
                 gray: int = 2,
                 prob: float = 1.0,
                 modalities: ModalitiesType = (RGB, ),
                 color_format: str = 'bgr') -> None:
        super().__init__(modalities, color_format)
        if not isinstance(gray, int) or gray < 2:
            raise ValueError(
                f'ChannelExchange: gray must be an int >= 2, got {gray!r}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(
                f'ChannelExchange: prob must be in [0, 1], got {prob!r}')
        self.gray = gray
        self.prob = prob

    @cache_randomness
    def _random_op(self) -> Optional[int]:
        if np.random.rand() >= self.prob:
            return None
        return min(np.random.randint(self.gray + 1), GRAY)
