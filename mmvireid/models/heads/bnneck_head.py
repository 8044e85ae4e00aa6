"""BN-neck embedding head with an identity classifier."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS


@MODELS.register_module()
class BNNeckHead(BaseModule):
    """BN-neck head (Luo et al. 2019) for ReID.

    The pooled feature ``f`` (used by the metric losses) goes through a
    BatchNorm1d whose bias is frozen at 0; the normalised feature feeds a
    bias-free linear identity classifier in training and is the retrieval
    feature in testing.

    Args:
        in_channels (int): Feature dimension D. Defaults to 2048.
        num_classes (int): Number of training identities C.
        loss_id (dict, optional): Identity loss on the logits.
            Defaults to cross-entropy.
        loss_triplet (dict, optional): Metric loss on the pooled feature.
            Defaults to batch-hard triplet, margin 0.3.
        test_feature (str): Retrieval feature: ``'bn'`` (BN-neck output),
            ``'pool'`` (pooled feature) or ``'concat'`` (both).
            Defaults to ``'bn'``.
        bnneck_init_std (float): Standard deviation of the normal draw of
            the BN-neck weight around 1 at initialisation; 0 sets it to 1.
            The AGW and MCLNet codes draw N(1, 0.01²) (AGW ``model.py``
            L80–82). Defaults to 0.

    Shapes:
        - inputs: a tuple of (N, D) pooled features (the last one is used).
        - ``predict``: (N, D), or (N, 2D) for ``'concat'``.

    Example:
        >>> head = dict(type='BNNeckHead', in_channels=2048, num_classes=395,
        ...             loss_triplet=dict(type='TripletLoss',
        ...                               mining='weighted'))
    """

    def __init__(self,
                 in_channels: int = 2048,
                 num_classes: int = 0,
                 loss_id: Optional[dict] = dict(
                     type='CrossEntropyLoss', loss_weight=1.0),
                 loss_triplet: Optional[dict] = dict(
                     type='TripletLoss', margin=0.3, loss_weight=1.0),
                 test_feature: str = 'bn',
                 bnneck_init_std: float = 0.,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if loss_id is not None and num_classes <= 0:
            raise ValueError('BNNeckHead: num_classes must be the number of '
                             f'training identities, got {num_classes}')
        if test_feature not in ('bn', 'pool', 'concat'):
            raise ValueError("BNNeckHead: test_feature must be 'bn', 'pool' "
                             f"or 'concat', got {test_feature!r}")
        if bnneck_init_std < 0:
            raise ValueError('BNNeckHead: bnneck_init_std must be >= 0, got '
                             f'{bnneck_init_std}')
        self.in_channels = in_channels
        self.bnneck_init_std = bnneck_init_std
        self.num_classes = num_classes
        self.test_feature = test_feature
        self.bnneck = nn.BatchNorm1d(in_channels)
        self.bnneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(in_channels, num_classes, bias=False) \
            if loss_id is not None else None
        self.loss_id = MODELS.build(loss_id) if loss_id else None
        self.loss_triplet = MODELS.build(loss_triplet) \
            if loss_triplet else None

    def init_weights(self):
        super().init_weights()
        nn.init.normal_(self.bnneck.weight, 1.0, self.bnneck_init_std)
        nn.init.constant_(self.bnneck.bias, 0.0)
        if self.classifier is not None:
            nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, feats: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return the pooled feature and its BN-neck output, each (N, D)."""
        pooled = feats[-1].flatten(1)
        return pooled, self.bnneck(pooled)

    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        pooled, bn = self(feats)
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            pooled.device)
        losses = {}
        if self.loss_id is not None:
            logits = self.classifier(bn)
            losses['loss_id'] = self.loss_id(logits, labels)
            losses['accuracy'] = (logits.argmax(1) == labels).float().mean()
        if self.loss_triplet is not None:
            losses['loss_triplet'] = self.loss_triplet(pooled, labels)
        return losses

    def predict(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        pooled, bn = self(feats)
        if self.test_feature == 'bn':
            return bn
        if self.test_feature == 'pool':
            return pooled
        return torch.cat([bn, pooled], dim=1)
