"""Image loading that fails with the path and what was expected."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.image.io import imread_flags, supported_backends
from mmcv.transforms import LoadImageFromFile

from mmvireid.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadVIReIDImage(LoadImageFromFile):
    """Load ``results['img_path']`` into ``results['img']``, failing clearly.

    mmcv's :class:`LoadImageFromFile` with clear errors: mmcv only
    ``assert``s when an image cannot be decoded (nothing is checked under
    ``python -O``) and lets the decoder's own error through for an empty
    file. Here a missing file raises :class:`FileNotFoundError` and a file
    that cannot be decoded (corrupt, empty, not an image) raises
    :class:`OSError`, both naming the path. The deprecated
    ``file_client_args`` of the parent is not accepted; use
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
        backend_args (dict, optional): File backend arguments of
            :func:`mmengine.fileio.get`. Defaults to None.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage'),
        ...     dict(type='PackVIReIDInputs'),
        ... ]
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 ignore_empty: bool = False,
                 *,
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
