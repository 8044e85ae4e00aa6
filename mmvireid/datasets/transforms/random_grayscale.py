"""Random grayscale restricted to some modalities."""
from typing import Optional

import numpy as np
from mmcv.transforms.utils import cache_randomness

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import RGB
from .base_channel_transform import GRAY, BaseChannelTransform, ModalitiesType


@TRANSFORMS.register_module()
class ModalityRandomGrayscale(BaseChannelTransform):
    """Turn the image gray (three equal channels) with probability ``prob``.

    The RGB random grayscale of the VI-ReID baselines (torchvision's
    ``RandomGrayscale(p=0.5)`` on the visible images). Written here rather
    than reusing mmcv's ``RandomGrayscale`` because that one cannot be
    restricted to a modality and truncates the weighted sum (a gray pixel of
    23 comes out 22); this one rounds, through :func:`mmcv.bgr2gray`, or
    through PIL as torchvision does with ``gray_backend='pillow'`` (the
    MCLNet recipe, pixel for pixel).

    **Required Keys:** ``img`` (H, W, 3), ``modality``.

    **Modified Keys:** ``img`` (H, W, 3).

    Args:
        prob (float): Probability of turning an image gray. Defaults to 0.5.
        modalities (int | str | Sequence[int | str]): Modalities it applies
            to. Defaults to ``(RGB,)``.
        color_format (str): ``'bgr'`` or ``'rgb'``, channel order of
            ``img``. Defaults to ``'bgr'``.
        gray_backend (str): ``'cv2'`` or ``'pillow'``, see
            :class:`BaseChannelTransform`. Defaults to ``'cv2'``.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage'),
        ...     dict(type='ModalityRandomGrayscale', prob=0.5,
        ...          modalities=['rgb']),
        ...     dict(type='PackVIReIDInputs'),
        ... ]
    """

    REPR_ARGS = ('prob', 'gray_backend')

    def __init__(self,
                 prob: float = 0.5,
                 modalities: ModalitiesType = (RGB, ),
                 color_format: str = 'bgr',
                 gray_backend: str = 'cv2') -> None:
        super().__init__(modalities, color_format, gray_backend)
        if not 0.0 <= prob <= 1.0:
            raise ValueError('ModalityRandomGrayscale: prob must be in '
                             f'[0, 1], got {prob!r}')
        self.prob = prob

    @cache_randomness
    def _random_op(self) -> Optional[int]:
        return GRAY if np.random.rand() < self.prob else None
