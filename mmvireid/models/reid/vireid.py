"""The ReID model: data preprocessor -> backbone -> neck -> head."""
import inspect
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS


@MODELS.register_module()
class VIReID(BaseModel):
    """Visible-infrared ReID model.

    The data preprocessor (:class:`VIReIDDataPreprocessor` by default)
    stacks the images and hands over their ``modality`` as an (N,) tensor;
    the backbone, the neck and the head receive it when they declare
    ``takes_modality = True`` (e.g. :class:`TwoStreamResNet`,
    :class:`DeepSupervisionNeck`, :class:`MCLNetHead`); any other mmpretrain
    backbone or neck is called on its input alone (a one-stream model).

    Modes of :meth:`forward`:

    - ``'loss'``: a dict of losses from the head.
    - ``'predict'``: the data samples with a ``feature`` field, shape (D,):
      the head's retrieval feature of the image and of its horizontal flip,
      averaged, then L2-normalised (``flip_test=False`` skips the flip).
    - ``'tensor'``: the neck's outputs, a tuple of (N, D_i) tensors.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Pooling config (e.g.
            ``GeneralizedMeanPooling``).
        head (dict): Head config with ``loss`` and ``pre_logits`` (the
            retrieval feature, as :class:`BNNeckHead`). When it takes
            ``in_channels`` and leaves it out (or None), the feature
            dimension D is read off a forward of one small image through
            the backbone and the neck, so any mmpretrain backbone can be
            swapped in without setting it (ViT-B: 768, ConvNeXt-T: 768).
        data_preprocessor (dict, optional): Its type defaults to
            :class:`VIReIDDataPreprocessor`, and it defaults to one without
            normalisation. The configs write it at top level in the dataset
            bases; MMEngine's Runner hands it over.
        flip_test (bool): Average with the flipped image in ``predict``.
            Defaults to True.

    Example:
        >>> model = dict(
        ...     type='VIReID',
        ...     backbone=dict(type='TwoStreamResNet',
        ...                   backbone=dict(type='ResNet', depth=50,
        ...                                 strides=(1, 2, 2, 1))),
        ...     neck=dict(type='GeneralizedMeanPooling', p=3.0),
        ...     head=dict(type='BNNeckHead', num_classes=395))
        >>> # without a data loader: images (N, 3, H, W), modality (N,)
        >>> feats = MODELS.build(model)(images, modality=modality)
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 flip_test: bool = True,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'VIReIDDataPreprocessor')
        super().__init__(
            init_cfg=init_cfg,
            data_preprocessor=MODELS.build(data_preprocessor))
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.head = None  # built once its in_channels is known
        self.head = MODELS.build(self._with_in_channels(head))
        self.flip_test = flip_test

    #: (H, W) of the image whose features give an unset head.in_channels.
    PROBE_SIZE = (128, 64)

    def _with_in_channels(self, head: dict) -> dict:
        """``head`` with ``in_channels`` set to the feature dimension when
        the head takes it and the config leaves it out (or None)."""
        head_cls = MODELS.get(head['type']) if isinstance(
            head.get('type'), str) else head.get('type')
        if head.get('in_channels') is not None or head_cls is None or \
                'in_channels' not in inspect.signature(head_cls).parameters:
            return head
        images = torch.zeros(1, 3, *self.PROBE_SIZE)
        modality = torch.zeros(1, dtype=torch.long)
        parts = [m for m in (self.backbone, self.neck) if m is not None]
        for part in parts:
            part.eval()
        try:
            with torch.no_grad():
                feats = self.extract_feat(images, modality)
        except Exception as error:
            raise ValueError(
                'VIReID: head.in_channels is not set and could not be read '
                f'off the features of a {self.PROBE_SIZE[0]}x'
                f'{self.PROBE_SIZE[1]} image ({type(error).__name__}: '
                f'{error}); set head.in_channels to the feature dimension '
                'of the backbone and neck') from error
        finally:
            for part in parts:
                part.train()
        return dict(head, in_channels=feats[-1].flatten(1).shape[1])

    @staticmethod
    def _takes_modality(module) -> bool:
        return getattr(module, 'takes_modality', False)

    def _check_modality(self, inputs: torch.Tensor,
                        modality: Optional[torch.Tensor]) -> None:
        """A model with a modality-routed part needs (N,) ``modality``."""
        if not any(
                self._takes_modality(m)
                for m in (self.backbone, self.neck, self.head)):
            return
        if modality is None:
            raise ValueError(
                'VIReID: this model routes images by modality '
                f'({type(self.backbone).__name__}); give modality, an (N,) '
                'tensor of 0 (RGB) / 1 (IR), or use a data preprocessor '
                'that provides it (VIReIDDataPreprocessor)')
        if modality.shape != inputs.shape[:1]:
            raise ValueError(
                f'VIReID: modality must have shape ({inputs.shape[0]},), '
                f'got {tuple(modality.shape)}')

    def extract_feat(self,
                     inputs: torch.Tensor,
                     modality: Optional[torch.Tensor] = None
                     ) -> Tuple[torch.Tensor]:
        """Backbone and neck.

        Args:
            inputs (Tensor): Images, (N, 3, H, W).
            modality (Tensor, optional): Modality of every image, (N,) long;
                needed when the backbone or the neck takes it.

        Returns:
            tuple[Tensor]: Pooled features, each (N, D_i).
        """
        self._check_modality(inputs, modality)
        if self._takes_modality(self.backbone):
            x = self.backbone(inputs, modality)
        else:
            x = self.backbone(inputs)
        if self._takes_modality(self.neck):
            x = self.neck(x, modality)
        elif self.neck is not None:
            x = self.neck(x)
        return x

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor',
                modality: Optional[torch.Tensor] = None):
        """See the modes in the class docstring.

        Args:
            inputs (Tensor): Images, (N, 3, H, W).
            data_samples (list[DataSample], optional): Needed by ``'loss'``
                and ``'predict'``.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.
            modality (Tensor, optional): (N,) long, from the data
                preprocessor.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples, modality)
        if mode == 'predict':
            return self.predict(inputs, data_samples, modality)
        if mode == 'tensor':
            return self.extract_feat(inputs, modality)
        raise RuntimeError(f'VIReID: invalid mode {mode!r}; expected '
                           "'loss', 'predict' or 'tensor'")

    def loss(self,
             inputs: torch.Tensor,
             data_samples: List[DataSample],
             modality: Optional[torch.Tensor] = None
             ) -> Dict[str, torch.Tensor]:
        """The head's losses of a batch (the head gets ``modality`` when it
        takes it)."""
        feats = self.extract_feat(inputs, modality)
        if self._takes_modality(self.head):
            return self.head.loss(feats, data_samples, modality)
        return self.head.loss(feats, data_samples)

    def retrieval_feat(self,
                       inputs: torch.Tensor,
                       modality: Optional[torch.Tensor] = None
                       ) -> torch.Tensor:
        """The head's retrieval feature of every image, as it is: neither
        flip-averaged nor L2-normalised (the graph a deployed model runs,
        see ``tools/deployment/pytorch2onnx.py``).

        Args:
            inputs (Tensor): Preprocessed images, (N, 3, H, W).
            modality (Tensor, optional): (N,) long, needed when a part
                takes it.

        Returns:
            Tensor: (N, D).
        """
        return self.head.pre_logits(self.extract_feat(inputs, modality))

    def predict(self,
                inputs: torch.Tensor,
                data_samples: List[DataSample],
                modality: Optional[torch.Tensor] = None) -> List[DataSample]:
        """Set the L2-normalised (flip-averaged) feature on every sample."""
        feats = self.retrieval_feat(inputs, modality)
        if self.flip_test:
            flipped = self.retrieval_feat(inputs.flip(3), modality)
            feats = (feats + flipped) / 2
        feats = F.normalize(feats, dim=1)
        for sample, feat in zip(data_samples, feats):
            sample.set_field(feat, 'feature', field_type='data')
        return data_samples
