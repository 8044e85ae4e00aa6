"""The ReID model: data preprocessor -> backbone -> neck -> head."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS


@MODELS.register_module()
class VIReID(BaseModel):
    """Visible-infrared ReID model.

    The backbone (and the neck) receives the per-sample ``modality`` when it
    declares ``takes_modality = True`` (e.g. :class:`TwoStreamResNet`); any
    other mmpretrain backbone or neck is called on its input alone (a
    one-stream model).

    Modes of :meth:`forward`:

    - ``'loss'``: a dict of losses from the head.
    - ``'predict'``: the data samples with a ``feature`` field, shape (D,):
      the head's retrieval feature of the image and of its horizontal flip,
      averaged, then L2-normalised (``flip_test=False`` skips the flip).
    - ``'tensor'``: the neck's outputs, a tuple of (N, D_i) tensors.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Pooling config (e.g. ``GeneralizedMeanPooling``).
        head (dict): Head config with ``loss`` and ``predict``.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor``.
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
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 flip_test: bool = True,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(
            init_cfg=init_cfg,
            data_preprocessor=MODELS.build(data_preprocessor))
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.head = MODELS.build(head)
        self.flip_test = flip_test

    @staticmethod
    def modality_of(data_samples: List[DataSample],
                    device: torch.device) -> torch.Tensor:
        """The ``modality`` of every sample, shape (N,) long."""
        return torch.tensor([s.modality for s in data_samples],
                            dtype=torch.long, device=device)

    def extract_feat(self, inputs: torch.Tensor,
                     data_samples: List[DataSample]) -> Tuple[torch.Tensor]:
        """Backbone and neck: a tuple of pooled features (N, D_i)."""
        modality = None
        if getattr(self.backbone, 'takes_modality', False) or getattr(
                self.neck, 'takes_modality', False):
            modality = self.modality_of(data_samples, inputs.device)
        if getattr(self.backbone, 'takes_modality', False):
            x = self.backbone(inputs, modality)
        else:
            x = self.backbone(inputs)
        if getattr(self.neck, 'takes_modality', False):
            x = self.neck(x, modality)
        elif self.neck is not None:
            x = self.neck(x)
        return x

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs, data_samples)
        raise RuntimeError(f'VIReID: invalid mode {mode!r}; expected '
                           "'loss', 'predict' or 'tensor'")

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        return self.head.loss(self.extract_feat(inputs, data_samples),
                              data_samples)

    def predict(self, inputs: torch.Tensor,
                data_samples: List[DataSample]) -> List[DataSample]:
        feats = self.head.predict(self.extract_feat(inputs, data_samples))
        if self.flip_test:
            flipped = self.head.predict(
                self.extract_feat(inputs.flip(3), data_samples))
            feats = (feats + flipped) / 2
        feats = F.normalize(feats, dim=1)
        for sample, feat in zip(data_samples, feats):
            sample.set_field(feat, 'feature', field_type='data')
        return data_samples
