"""Batch preparation of VI-ReID: images and their modality."""
from typing import List, Optional

import torch
from mmengine.model import ModuleList
from mmpretrain.models import ClsDataPreprocessor

from mmvireid.registry import MODELS
from mmvireid.structures import parse_modality


@MODELS.register_module()
class VIReIDDataPreprocessor(ClsDataPreprocessor):
    """mmpretrain's :class:`ClsDataPreprocessor` that also hands the model
    the modality of every image.

    Stacks, normalises (and BGR→RGB converts) the images as
    ``ClsDataPreprocessor`` does, then gathers the ``modality`` metainfo of
    the data samples (written by the datasets, packed by
    ``PackVIReIDInputs``) into one tensor, so the model never reads it from
    the samples itself: the one place the (N,) modality tensor is built.

    Training batches then go through the ``batch_augments``, in order,
    after normalisation (the convention of mmdet's data preprocessors, e.g.
    :class:`BatchRandomErasing`, which erases to 0 in the normalised space as
    torchvision's ``RandomErasing`` after ``Normalize``). mmpretrain's
    label-mixing ``batch_augments`` (Mixup, CutMix) are not supported: they
    need one-hot scores, and the ReID heads read ``gt_label``.

    Returns of :meth:`forward`: ``dict(inputs=(N, 3, H, W) float,
    data_samples=list, modality=(N,) long)`` on the model's device;
    ``modality`` is None when the batch has no data samples.

    Args:
        batch_augments (list[dict], optional): Augmentations of a
            normalised training batch, each called as
            ``inputs, data_samples = aug(inputs, data_samples)``.
            Defaults to None.
        **kwargs: Arguments of :class:`ClsDataPreprocessor` (``mean``,
            ``std``, ``to_rgb`` ...).

    Example:
        >>> # configs/_base_/datasets/*.py, at top level (mmpretrain's
        >>> # convention): MMEngine's Runner hands it to the model, and
        >>> # VIReID builds it as a VIReIDDataPreprocessor
        >>> data_preprocessor = dict(
        ...     mean=[123.675, 116.28, 103.53],
        ...     std=[58.395, 57.12, 57.375],
        ...     to_rgb=True)
    """

    def __init__(self,
                 batch_augments: Optional[List[dict]] = None,
                 **kwargs) -> None:
        if kwargs.get('to_onehot'):
            raise ValueError(
                'VIReIDDataPreprocessor: to_onehot is not supported; the '
                'ReID heads read gt_label')
        if batch_augments is not None and not isinstance(
                batch_augments, (list, tuple)):
            raise TypeError(
                'VIReIDDataPreprocessor: batch_augments must be a list of '
                'batch augmentation configs (e.g. [dict(type='
                "'BatchRandomErasing')]), got "
                f'{type(batch_augments).__name__}; mmpretrain\'s Mixup / '
                'CutMix are not supported')
        super().__init__(**kwargs)
        # the parent's batch_augments (label mixing) stay None: its forward
        # never sees these
        self.batch_augments = ModuleList(
            [MODELS.build(aug) for aug in batch_augments]) \
            if batch_augments else None

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise and stack the images, gather the modalities.

        Args:
            data (dict): A batch of the data loader, ``inputs`` and
                ``data_samples``.
            training (bool): Whether the batch is a training batch (the
                ``batch_augments`` apply to training batches only).

        Returns:
            dict: ``inputs``, ``data_samples`` and ``modality``.

        Raises:
            KeyError: If a data sample lacks ``modality``, naming its image.
            ValueError: If a ``modality`` is neither RGB (``0`` /
                ``'rgb'`` ...) nor IR (``1`` / ``'ir'`` ...), naming its
                image.
        """
        data = super().forward(data, training)
        data_samples = data.get('data_samples')
        if training and self.batch_augments is not None:
            inputs = data['inputs']
            for augment in self.batch_augments:
                inputs, data_samples = augment(inputs, data_samples)
            data['inputs'], data['data_samples'] = inputs, data_samples
        modality = None
        if data_samples is not None:
            modality = torch.tensor(
                [self._modality_of(s) for s in data_samples],
                dtype=torch.long,
                device=self.device)
        data['modality'] = modality
        return data

    @staticmethod
    def _modality_of(sample) -> int:
        """The ``modality`` of a data sample as an int, checked."""
        if 'modality' not in sample:
            raise KeyError(
                f'VIReIDDataPreprocessor: the data sample of '
                f"{sample.get('img_path')!r} has no 'modality'; the dataset "
                'must give one (RGB = 0, IR = 1) and PackVIReIDInputs packs '
                'it')
        return parse_modality(
            sample.modality, 'VIReIDDataPreprocessor: the data sample of '
            f"{sample.get('img_path')!r}: modality")
