"""Base of the colour-channel tricks that apply to some modalities only."""
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image

from mmvireid.structures import parse_modalities

#: ``_random_op`` value meaning "replace the image by its gray version".
GRAY = 3

ModalitiesType = Union[int, str, Sequence[Union[int, str]]]


class BaseChannelTransform(BaseTransform):
    """Replace the image by one of its channels or by its gray version.

    The common part of :class:`ChannelExchange`, :class:`ChannelAdapGray` and
    :class:`ModalityRandomGrayscale`: items whose ``modality`` is not in
    ``modalities`` pass unchanged; for the others a subclass draws an
    operation with ``numpy.random`` in :meth:`_random_op`:

    - ``None``: keep the image;
    - ``0``, ``1``, ``2``: copy that channel (in the array's channel order)
      to all three channels;
    - :data:`GRAY`: the ITU-R 601 luminance
      (0.299 R + 0.587 G + 0.114 B, rounded, through :func:`mmcv.bgr2gray` /
      :func:`mmcv.rgb2gray`, or through PIL's ``convert('L')`` with
      ``gray_backend='pillow'``) copied to all three channels. The two
      round differently: about 1 pixel in 1,000 of a random image differs
      by 1.

    **Required Keys:** ``img`` (H, W, 3), ``modality``.

    **Modified Keys:** ``img`` (H, W, 3), same dtype.

    Args:
        modalities (int | str | Sequence[int | str]): Modalities the
            transform applies to (``0``/``'rgb'``, ``1``/``'ir'``).
        color_format (str): Channel order of ``img``, ``'bgr'`` (what
            ``LoadVIReIDImage`` gives) or ``'rgb'``. Only the gray weights
            depend on it.
        gray_backend (str): ``'cv2'`` (:func:`mmcv.bgr2gray`) or
            ``'pillow'`` (PIL's ``convert('L')``, what torchvision's
            ``RandomGrayscale`` applies to a PIL image; uint8 images only).
            Defaults to ``'cv2'``.
    """

    #: Names of the ``__init__`` arguments shown by ``__repr__`` before
    #: ``modalities`` and ``color_format``.
    REPR_ARGS: Tuple[str, ...] = ()

    def __init__(self,
                 modalities: ModalitiesType,
                 color_format: str = 'bgr',
                 gray_backend: str = 'cv2') -> None:
        name = type(self).__name__
        self.modalities = parse_modalities(modalities, f'{name}: modalities')
        if color_format not in ('bgr', 'rgb'):
            raise ValueError(f"{name}: color_format must be 'bgr' or 'rgb', "
                             f'got {color_format!r}')
        if gray_backend not in ('cv2', 'pillow'):
            raise ValueError(f"{name}: gray_backend must be 'cv2' or "
                             f"'pillow', got {gray_backend!r}")
        self.color_format = color_format
        self.gray_backend = gray_backend

    def _random_op(self) -> Optional[int]:
        """Draw the operation: ``None``, a channel index or :data:`GRAY`."""
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Apply the drawn operation to ``results['img']``.

        Args:
            results (dict): The item, with ``img`` and ``modality``.

        Returns:
            dict: The item, ``img`` replaced when the operation is not "keep".
        """
        name = type(self).__name__
        if 'modality' not in results:
            raise KeyError(
                f"{name}: item {results.get('img_path')!r} has no 'modality' "
                'field; the dataset must give one (RGB = 0, IR = 1)')
        if results['modality'] not in self.modalities:
            return results
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f"{name}: item {results.get('img_path')!r} has img of shape "
                f'{img.shape}, expected (H, W, 3); load images with '
                "color_type='color'")
        op = self._random_op()
        if op is None:
            return results
        if op == GRAY:
            channel = self._gray(img, results.get('img_path'))
        else:
            channel = img[..., op:op + 1]
        results['img'] = np.repeat(channel, 3, axis=2)
        return results

    def _gray(self, img: np.ndarray, img_path) -> np.ndarray:
        """The luminance of ``img`` (H, W, 3), shape (H, W, 1)."""
        if self.gray_backend == 'cv2':
            to_gray = mmcv.bgr2gray if self.color_format == 'bgr' \
                else mmcv.rgb2gray
            return to_gray(img, keepdim=True)
        if img.dtype != np.uint8:
            raise ValueError(
                f"{type(self).__name__}: gray_backend='pillow' needs a uint8 "
                f'image, item {img_path!r} has {img.dtype}')
        rgb = img[..., ::-1] if self.color_format == 'bgr' else img
        gray = Image.fromarray(np.ascontiguousarray(rgb)).convert('L')
        return np.asarray(gray)[..., None]

    def __repr__(self) -> str:
        args = [f'{arg}={getattr(self, arg)!r}' for arg in self.REPR_ARGS]
        args += [
            f'modalities={self.modalities!r}',
            f'color_format={self.color_format!r}'
        ]
        return f"{type(self).__name__}({', '.join(args)})"
