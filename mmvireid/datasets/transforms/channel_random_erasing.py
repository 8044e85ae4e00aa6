"""Random erasing with CAJ's sampling of the erased rectangle."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmpretrain.datasets.transforms import RandomErasing

from mmvireid.registry import TRANSFORMS

#: CAJ's fill (0.4914, 0.4822, 0.4465), given in the ImageNet-normalised RGB
#: space, mapped back to pixels (v * std + mean with mean (123.675, 116.28,
#: 103.53) and std (58.395, 57.12, 57.375)), rounded, in BGR order.
CAJ_FILL_BGR = (129, 144, 152)


@TRANSFORMS.register_module()
class ChannelRandomErasing(RandomErasing):
    """Erase a random rectangle, sampled as CAJ's ``ChannelRandomErasing``.

    ``ChannelRandomErasing`` of Ye et al., "Channel Augmented Joint Learning
    for Visible-Infrared Recognition" (CAJ, ICCV 2021), which is the random
    erasing of Zhong et al. (AAAI 2020) with a per-channel fill. mmpretrain's
    :class:`RandomErasing` (reused here for the fill) samples the rectangle
    differently, so it is not a drop-in replacement:

    - the aspect ratio h/w is drawn uniformly from ``aspect_range`` (CAJ),
      not log-uniformly (mmpretrain), so tall rectangles are more likely;
    - a rectangle that does not fit strictly inside the image is drawn again,
      up to ``max_attempts`` times, and the image is left unchanged when none
      fits (CAJ); mmpretrain clips it to the image border instead.

    With area ratio ``s ~ U(min_area_ratio, max_area_ratio)`` and
    ``r ~ U(aspect_range)``: ``h = round(sqrt(s * H * W * r))``,
    ``w = round(sqrt(s * H * W / r))``, accepted when ``h < H`` and
    ``w < W``; the top-left corner is uniform over the valid positions.

    It runs on the HWC pixels before normalisation, so the fill is in pixel
    units; the default :data:`CAJ_FILL_BGR` is CAJ's normalised-space fill
    mapped back to BGR pixels.

    **Required Keys:** ``img`` (H, W, 3).

    **Modified Keys:** ``img``.

    Args:
        erase_prob (float): Probability of erasing. Defaults to 0.5.
        min_area_ratio (float): Smallest erased area / image area.
            Defaults to 0.02.
        max_area_ratio (float): Largest erased area / image area.
            Defaults to 0.4.
        aspect_range (float | Sequence[float]): Range of h / w; a float
            ``r`` means ``(r, 1 / r)``. Defaults to ``(0.3, 1 / 0.3)``.
        mode (str): ``'const'`` (fill with ``fill_color``) or ``'rand'``
            (random pixels), as :class:`RandomErasing`. Defaults to
            ``'const'``.
        fill_color (Sequence[Number] | Number): Fill per channel, in the
            image's channel order. Defaults to :data:`CAJ_FILL_BGR`.
        fill_std (Sequence[Number] | Number, optional): See
            :class:`RandomErasing`. Defaults to None.
        max_attempts (int): Draws of a rectangle before giving up.
            Defaults to 100.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage'),
        ...     dict(type='ChannelRandomErasing', erase_prob=0.5),
        ...     dict(type='PackVIReIDInputs'),
        ... ]
    """

    def __init__(self,
                 erase_prob: float = 0.5,
                 min_area_ratio: float = 0.02,
                 max_area_ratio: float = 0.4,
                 aspect_range: Union[float, Sequence[float]] = (0.3, 1 / 0.3),
                 mode: str = 'const',
                 fill_color: Union[Sequence[float], float] = CAJ_FILL_BGR,
                 fill_std: Optional[Union[Sequence[float], float]] = None,
                 max_attempts: int = 100) -> None:
        super().__init__(
            erase_prob=erase_prob,
            min_area_ratio=min_area_ratio,
            max_area_ratio=max_area_ratio,
            aspect_range=aspect_range,
            mode=mode,
            fill_color=fill_color,
            fill_std=fill_std)
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError('ChannelRandomErasing: max_attempts must be an '
                             f'int >= 1, got {max_attempts!r}')
        self.max_attempts = max_attempts

    @cache_randomness
    def random_patch(self, img_h: int,
                     img_w: int) -> Optional[Tuple[int, int, int, int]]:
        """Draw ``(top, left, h, w)`` of the rectangle, or None if none fit.

        All ``max_attempts`` candidates are drawn at once and the first that
        fits is taken, which has the distribution of CAJ's retry loop.
        """
        area = img_h * img_w * np.random.uniform(
            self.min_area_ratio, self.max_area_ratio, self.max_attempts)
        aspect_ratio = np.random.uniform(*self.aspect_range, self.max_attempts)
        h = np.round(np.sqrt(area * aspect_ratio)).astype(int)
        w = np.round(np.sqrt(area / aspect_ratio)).astype(int)
        fits = np.flatnonzero((h < img_h) & (w < img_w))
        if not len(fits):
            return None
        h, w = int(h[fits[0]]), int(w[fits[0]])
        top = np.random.randint(img_h - h + 1)
        left = np.random.randint(img_w - w + 1)
        return top, left, h, w

    def transform(self, results: dict) -> dict:
        """Erase one rectangle of ``results['img']`` with ``erase_prob``.

        Args:
            results (dict): The item, with ``img`` (H, W, 3).

        Returns:
            dict: The item, ``img`` erased in place.
        """
        if self.random_disable():
            return results
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f"ChannelRandomErasing: item {results.get('img_path')!r} has "
                f'img of shape {img.shape}, expected (H, W, 3)')
        patch = self.random_patch(*img.shape[:2])
        if patch is not None:
            results['img'] = self._fill_pixels(img, *patch)
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, max_attempts={self.max_attempts})'
