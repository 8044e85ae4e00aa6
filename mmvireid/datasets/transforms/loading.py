"""Image loading that fails with the path and what was expected."""
import io
import warnings
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.image.io import imread_flags, supported_backends
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from mmvireid.registry import TRANSFORMS

#: Default ``max_pixels``: Pillow's decompression-bomb threshold
#: (``PIL.Image.MAX_IMAGE_PIXELS``), about 9459 x 9459.
DEFAULT_MAX_PIXELS = 89_478_485


@TRANSFORMS.register_module()
class LoadVIReIDImage(LoadImageFromFile):
    """Load ``results['img_path']`` into ``results['img']``, failing clearly.

    mmcv's :class:`LoadImageFromFile` with clear errors: mmcv only
    ``assert``s when an image cannot be decoded (nothing is checked under
    ``python -O``) and lets the decoder's own error through for an empty
    file. Here a missing file raises :class:`FileNotFoundError` and a file
    that cannot be decoded (corrupt, empty, not an image) raises
    :class:`OSError`, both naming the path. An image whose header declares
    more than ``max_pixels`` pixels is refused before it is decoded, as a
    possible decompression bomb (a few kilobytes that decode to gigabytes);
    the header is read with Pillow, which does not decode the pixels. The
    deprecated ``file_client_args`` of the parent is not accepted; use
    ``backend_args``.

    **Required Keys:** ``img_path``.

    **Added Keys:** ``img`` (H, W, 3) uint8 BGR with the defaults,
    ``img_shape``, ``ori_shape`` ((H, W)).

    Args:
        to_float32 (bool): Convert the image to float32. Defaults to False.
        color_type (str): ``flag`` of :func:`mmcv.imfrombytes`. Defaults to
            ``'color'`` (three channels, also for infrared images).
        imdecode_backend (str): Decoder of :func:`mmcv.imfrombytes`
            (``'cv2'``, ``'pillow'``, ...). Defaults to ``'cv2'``.
        ignore_empty (bool): Return None instead of raising for a missing or
            undecodable file. Defaults to False.
        max_pixels (int): Largest width x height accepted. Defaults to
            Pillow's threshold, 89,478,485 (about 9459 x 9459).
        backend_args (dict, optional): File backend arguments of
            :func:`mmengine.fileio.get`. Defaults to None.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage', max_pixels=4096 * 4096),
        ...     dict(type='PackVIReIDInputs'),
        ... ]
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 ignore_empty: bool = False,
                 *,
                 max_pixels: int = DEFAULT_MAX_PIXELS,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            ignore_empty=ignore_empty,
            backend_args=backend_args)
        # Checked here: every error of the decoder below is reported as a bad
        # image file, so a wrong argument must not reach it.
        if imdecode_backend not in supported_backends:
            raise ValueError(
                f'LoadVIReIDImage: imdecode_backend must be one of '
                f'{supported_backends}, got {imdecode_backend!r}')
        if color_type not in imread_flags:
            raise ValueError(f'LoadVIReIDImage: color_type must be one of '
                             f'{sorted(imread_flags)}, got {color_type!r}')
        if isinstance(max_pixels, bool) or not isinstance(
                max_pixels, int) or max_pixels < 1:
            raise ValueError('LoadVIReIDImage: max_pixels must be an int >= '
                             f'1, got {max_pixels!r}')
        self.max_pixels = max_pixels

    def _check_size(self, img_bytes: bytes, img_path: str) -> None:
        """Refuse an image whose header declares more than ``max_pixels``.

        Raises:
            OSError: Naming the file, its declared size and ``max_pixels``.
        """
        try:
            with warnings.catch_warnings():
                # Pillow warns above its own threshold and raises above twice
                # it; either way the size is reported below.
                warnings.simplefilter('ignore', Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(img_bytes)) as image:
                    width, height = image.size
        except Image.DecompressionBombError as error:
            raise OSError(
                f'LoadVIReIDImage: {img_path!r} is a possible decompression '
                f'bomb: {error} (max_pixels={self.max_pixels})') from error
        except Exception:  # not readable by Pillow: the decoder reports it
            return
        if width * height > self.max_pixels:
            raise OSError(
                f'LoadVIReIDImage: {img_path!r} declares {width} x {height} '
                f'= {width * height} pixels, more than max_pixels='
                f'{self.max_pixels}: refused as a possible decompression '
                'bomb; raise max_pixels of LoadVIReIDImage if the image is '
                'genuine')

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image.

        Args:
            results (dict): The item, with ``img_path``.

        Returns:
            dict | None: The item with ``img``, ``img_shape`` and
            ``ori_shape``; None for a bad file when ``ignore_empty``.
        """
        if 'img_path' not in results:
            raise KeyError("LoadVIReIDImage: the item has no 'img_path' "
                           f'field; its keys are {sorted(results)}')
        img_path = results['img_path']
        try:
            img_bytes = fileio.get(img_path, backend_args=self.backend_args)
        except FileNotFoundError as error:
            if self.ignore_empty:
                return None
            raise FileNotFoundError(
                f'LoadVIReIDImage: image file {img_path!r} does not exist; '
                'check data_root and the dataset files') from error
        try:
            self._check_size(img_bytes, img_path)
        except OSError:
            if self.ignore_empty:
                return None
            raise
        # The decoders disagree on how they fail (cv2 returns None for bad
        # bytes and raises on empty ones, pillow raises its own error), so
        # every decoding failure becomes one OSError naming the file.
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
            if img is None:
                raise ValueError(f'{self.imdecode_backend} returned no image')
        except Exception as error:
            if self.ignore_empty:
                return None
            raise OSError(
                f'LoadVIReIDImage: cannot decode {img_path!r} '
                f'({len(img_bytes)} bytes) with {self.imdecode_backend!r}; '
                'expected a JPEG/PNG/BMP image') from error
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
