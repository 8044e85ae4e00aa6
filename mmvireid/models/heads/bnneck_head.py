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

    Shapes:
        - inputs: a tuple of (N, D) pooled features (the last one is used).
        - ``pre_logits``: (N, D), or (N, 2D) for ``'concat'``.
        - ``predict``: N data samples with that ``feature`` (and
          ``pred_score`` (C,) with a classifier), mmpretrain's head API.

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
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if loss_id is not None and num_classes <= 0:
            raise ValueError('BNNeckHead: num_classes must be the number of '
                             f'training identities, got {num_classes}')
        if test_feature not in ('bn', 'pool', 'concat'):
            raise ValueError("BNNeckHead: test_feature must be 'bn', 'pool' "
                             f"or 'concat', got {test_feature!r}")
        self.in_channels = in_channels
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
        nn.init.constant_(self.bnneck.weight, 1.0)
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

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """The retrieval feature chosen by ``test_feature``, not normalised.

        The name and signature of mmpretrain's head API (``ClsHead``):
        ``ImageClassifier.extract_feat(inputs, stage='pre_logits')`` returns
        it, and :class:`VIReID` averages it over the flip and L2-normalises
        it.

        Args:
            feats (Sequence[Tensor]): Pooled features, the last one (N, D)
                is used.

        Returns:
            Tensor: (N, D), or (N, 2D) for ``'concat'`` (BN-neck output
            first).
        """
        pooled, bn = self(feats)
        if self.test_feature == 'bn':
            return bn
        if self.test_feature == 'pool':
            return pooled
        return torch.cat([bn, pooled], dim=1)

    def predict(self,
                feats: Sequence[torch.Tensor],
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """mmpretrain's head API: one data sample per image.

        Each sample gets ``feature``, the (D,) retrieval feature of
        :meth:`pre_logits` (what :class:`VIReIDMetric` reads; it
        L2-normalises), and, when the head has an identity classifier,
        ``pred_score`` (softmax over the C training identities) and
        ``pred_label`` as mmpretrain's ``ClsHead`` sets them. So the head
        serves in an mmpretrain ``ImageClassifier`` (one stream, no flip
        averaging); :class:`VIReID` calls :meth:`pre_logits` instead.

        Args:
            feats (Sequence[Tensor]): Pooled features, the last one (N, D)
                is used.
            data_samples (list[DataSample], optional): Samples to fill; None
                makes new ones. Defaults to None.

        Returns:
            list[DataSample]: The N samples.
        """
        feature = self.pre_logits(feats)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(feature))]
        scores = None
        if self.classifier is not None:
            _, bn = self(feats)
            scores = self.classifier(bn).softmax(dim=1)
        for i, sample in enumerate(data_samples):
            sample.set_field(feature[i], 'feature', field_type='data')
            if scores is not None:
                sample.set_pred_score(scores[i]).set_pred_label(
                    scores[i].argmax(dim=0, keepdim=True))
        return data_samples
