"""Pack a VI-ReID item into model inputs and a data sample."""
import operator
from typing import Sequence

from mmpretrain.datasets.transforms import PackInputs

from mmvireid.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackVIReIDInputs(PackInputs):
    """Pack an item into ``dict(inputs, data_samples)``.

    mmpretrain's :class:`PackInputs` with the ReID fields: ``inputs`` is the
    image as a (3, H, W) tensor of the image's dtype (uint8 unless the
    pipeline converted it); ``data_samples`` is a
    :class:`mmpretrain.structures.DataSample` whose ``gt_label`` is the
    ``pid`` (shape (1,), when the item has one, -1 included) and whose
    metainfo holds every key of ``meta_keys`` found in the item.
    :class:`VIReIDDataPreprocessor` gathers the ``modality`` metainfo of a
    batch into the (N,) tensor by which the model routes every image to the
    stream of its modality, so ``img`` and ``modality`` are required.

    **Required Keys:** ``img`` (H, W, C), ``modality``.

    **Added Keys:** ``inputs`` (C, H, W), ``data_samples``.

    Args:
        meta_keys (Sequence[str]): Item keys copied into the metainfo when
            present. Defaults to :attr:`DEFAULT_META_KEYS`: ``pid``,
            ``camid``, ``modality``, ``sample_idx``, ``img_path``,
            ``ori_shape``, ``img_shape``, ``scale_factor``, ``flip``,
            ``flip_direction``, ``is_query``, ``is_gallery``,
            ``pseudo_label``.

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage'),
        ...     dict(type='Resize', scale=(144, 288)),
        ...     dict(type='PackVIReIDInputs'),
        ... ]
    """

    DEFAULT_META_KEYS = ('pid', 'camid', 'modality', 'sample_idx', 'img_path',
                         'ori_shape', 'img_shape', 'scale_factor', 'flip',
                         'flip_direction', 'is_query', 'is_gallery',
                         'pseudo_label')
    REQUIRED_KEYS = ('img', 'modality')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__(input_key='img', meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        """Pack the item.

        Args:
            results (dict): The item after the pipeline.

        Returns:
            dict: ``inputs`` (C, H, W) tensor and ``data_samples``.
        """
        missing = [key for key in self.REQUIRED_KEYS if key not in results]
        if missing:
            raise KeyError(
                f"PackVIReIDInputs: item {results.get('img_path')!r} lacks "
                f'{missing}; it has {sorted(results)}. Put a loading '
                'transform before it and use a dataset that gives modality')
        packed = super().transform(results)
        if 'pid' in results:
            # operator.index takes numpy ints (which DataSample refuses) and
            # refuses floats.
            packed['data_samples'].set_gt_label(operator.index(results['pid']))
        return packed

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
