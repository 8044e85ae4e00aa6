"""torchvision's RandomErasing on a normalised batch, vectorised."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmvireid.registry import MODELS


@MODELS.register_module()
class BatchRandomErasing(nn.Module):
    """Erase one random rectangle of each image of a normalised batch.

    torchvision's ``RandomErasing`` (Zhong et al., AAAI 2020) applied to
    every image after normalisation, as the MCLNet code does
    (``transforms.Normalize`` then ``transforms.RandomErasing(p=0.5)``,
    ``main_train.py`` L86–87, L95–96), so that ``value=0`` is 0 in the
    normalised space (the mean colour). A batch augmentation of
    :class:`VIReIDDataPreprocessor` (``batch_augments``), which runs it on
    training batches only, after normalisation; a pipeline transform would
    erase the pixels before normalisation.

    For each image, with probability ``prob``: up to ``max_attempts`` times,
    draw an area fraction ``s ~ U(scale)`` and a log aspect ratio
    ``log r ~ U(log ratio)``, take ``h = round(sqrt(s H W r))`` and
    ``w = round(sqrt(s H W / r))``, and accept the first draw with
    ``h < H`` and ``w < W``; then draw the top-left corner uniformly among
    the positions where the rectangle fits and set it to ``value`` in every
    channel. If no draw fits, the image is unchanged. These are the steps
    and number types of torchvision's ``RandomErasing.get_params`` (float32
    draws, the rounding in float64, half to even), drawn for all images and
    attempts at once on the batch's device with torch's random generator.

    Args:
        prob (float): Probability of erasing an image. Defaults to 0.5.
        scale (Sequence[float]): Range of the erased area fraction.
            Defaults to ``(0.02, 0.33)``.
        ratio (Sequence[float]): Range of the aspect ratio h / w, drawn
            log-uniformly. Defaults to ``(0.3, 3.3)``.
        value (float): Value written into the rectangle, in the normalised
            space. Defaults to 0.
        max_attempts (int): Draws of a rectangle per image. Defaults to 10
            (torchvision's).

    Shapes:
        - inputs: (N, C, H, W) float. Output: the same shape, a new tensor.

    Example:
        >>> data_preprocessor = dict(
        ...     mean=[123.675, 116.28, 103.53],
        ...     std=[58.395, 57.12, 57.375],
        ...     to_rgb=True,
        ...     batch_augments=[dict(type='BatchRandomErasing', prob=0.5)])
    """

    def __init__(self,
                 prob: float = 0.5,
                 scale: Sequence[float] = (0.02, 0.33),
                 ratio: Sequence[float] = (0.3, 3.3),
                 value: float = 0.,
                 max_attempts: int = 10) -> None:
        super().__init__()
        if not 0 <= prob <= 1:
            raise ValueError(
                f'BatchRandomErasing: prob must be in [0, 1], got {prob!r}')
        for name, bounds in (('scale', scale), ('ratio', ratio)):
            if len(bounds) != 2 or not 0 < bounds[0] <= bounds[1]:
                raise ValueError(
                    f'BatchRandomErasing: {name} must be (low, high) with '
                    f'0 < low <= high, got {tuple(bounds)!r}')
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError('BatchRandomErasing: max_attempts must be an '
                             f'int >= 1, got {max_attempts!r}')
        self.prob = prob
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)
        self.value = float(value)
        self.max_attempts = max_attempts

    def get_params(self, num: int, height: int, width: int,
                   device: torch.device) -> Tuple[torch.Tensor, ...]:
        """Draw the rectangles of ``num`` images of size ``height`` x
        ``width``.

        Returns:
            tuple[torch.Tensor]: ``erase`` (num,) bool, and the ``top``,
            ``left``, ``h``, ``w`` (num,) long of each rectangle (meaningful
            where ``erase``).
        """
        shape = (num, self.max_attempts)
        area_frac = torch.empty(shape, device=device).uniform_(*self.scale)
        log_ratio = torch.log(torch.tensor(self.ratio))
        aspect = torch.exp(
            torch.empty(shape, device=device).uniform_(
                log_ratio[0].item(), log_ratio[1].item()))
        area = height * width * area_frac.double()
        h = torch.round(torch.sqrt(area * aspect.double()))
        w = torch.round(torch.sqrt(area / aspect.double()))
        fits = (h < height) & (w < width)
        first = fits.int().argmax(dim=1, keepdim=True)  # first fitting draw
        h = h.gather(1, first).squeeze(1).long()
        w = w.gather(1, first).squeeze(1).long()
        erase = (torch.rand(num, device=device) < self.prob) & fits.any(1)
        top = (torch.rand(num, device=device) *
               (height - h + 1).clamp_min(1)).floor().long()
        left = (torch.rand(num, device=device) *
                (width - w + 1).clamp_min(1)).floor().long()
        return erase, top, left, h, w

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: Optional[List] = None
    ) -> Tuple[torch.Tensor, Optional[List]]:
        """Erase the drawn rectangles.

        Args:
            inputs (torch.Tensor): Normalised images, (N, C, H, W).
            data_samples (list, optional): Passed through.

        Returns:
            tuple: The erased images (N, C, H, W) and ``data_samples``.
        """
        if inputs.dim() != 4:
            raise ValueError('BatchRandomErasing: inputs must be (N, C, H, '
                             f'W), got shape {tuple(inputs.shape)}')
        num, _, height, width = inputs.shape
        erase, top, left, h, w = self.get_params(num, height, width,
                                                 inputs.device)
        return self.erase(inputs, erase, top, left, h, w), data_samples

    def erase(self, inputs: torch.Tensor, erase: torch.Tensor,
              top: torch.Tensor, left: torch.Tensor, h: torch.Tensor,
              w: torch.Tensor) -> torch.Tensor:
        """Set ``inputs[n, :, top:top + h, left:left + w]`` to ``value``
        where ``erase[n]``, all images at once."""
        rows = torch.arange(inputs.shape[2], device=inputs.device)
        cols = torch.arange(inputs.shape[3], device=inputs.device)
        in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])
        in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])
        mask = erase[:, None, None] & in_rows[:, :, None] & in_cols[:, None]
        return inputs.masked_fill(mask[:, None], self.value)

    def extra_repr(self) -> str:
        return (f'prob={self.prob}, scale={self.scale}, ratio={self.ratio}, '
                f'value={self.value}, max_attempts={self.max_attempts}')
