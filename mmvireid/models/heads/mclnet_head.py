"""MCLNet head: BN-neck identity loss plus the deep-supervision losses."""
from typing import Dict, List, Optional, Sequence

import torch
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS
from .bnneck_head import BNNeckHead


@MODELS.register_module()
class MCLNetHead(BNNeckHead):
    """Head of MCLNet (Qian & Tang, Sensors 2025) on S stage features.

    Takes the pooled features (f_1, ..., f_S) of a deep-supervision neck
    (:class:`DeepSupervisionNeck`), f_S being the last stage's. The BN-neck,
    identity classifier and retrieval feature are those of
    :class:`BNNeckHead` on f_S. The losses, each optional (``None`` disables
    it, e.g. for ablations) and logged under its own name:

    - ``loss_id``: identity cross-entropy on BN-neck(f_S) (and
      ``accuracy``); ``loss_triplet`` on f_S if configured (not in MCLNet).
    - ``loss_mmd``: class-wise MMD between the RGB and IR samples of f_S
      (:class:`ClassWiseMMDLoss`).
    - ``loss_supcon_s1`` ... ``loss_supcon_sS``: supervised contrastive loss
      (:class:`SupConLoss`) on each f_s, every term with the module's
      ``loss_weight``.
    - ``loss_hks``: hierarchical knowledge synergy over (f_1, ..., f_S)
      (:class:`HierarchicalKnowledgeSynergyLoss`), ``loss_weight`` on every
      ordered pair.

    Args:
        in_channels (int): Feature dimension D. Defaults to 2048.
        num_classes (int): Number of training identities C.
        loss_id (dict, optional): Identity loss. Defaults to cross-entropy.
        loss_triplet (dict, optional): Metric loss on f_S. Defaults to None.
        loss_mmd (dict, optional): Defaults to ``ClassWiseMMDLoss`` (5
            kernels), weight 0.25.
        loss_supcon (dict, optional): Defaults to ``SupConLoss`` with
            tau = 0.1, scaled by tau, weight 5 per stage.
        loss_hks (dict, optional): Defaults to
            ``HierarchicalKnowledgeSynergyLoss`` with T = 1, weight 5 per
            ordered pair.
        test_feature (str): ``'bn'``, ``'pool'`` or ``'concat'`` of f_S, as
            in :class:`BNNeckHead`. Defaults to ``'bn'``.

    Shapes:
        - inputs: a tuple of S (N, D) features; ``loss`` reads ``gt_label``
          (the ``pid``) of every data sample and the (N,) ``modality``
          tensor the model passes.
        - ``pre_logits``: (N, D), or (N, 2D) for ``'concat'``.

    Example:
        >>> head = dict(
        ...     type='MCLNetHead', in_channels=2048, num_classes=395,
        ...     loss_mmd=dict(type='ClassWiseMMDLoss', loss_weight=0.25),
        ...     loss_supcon=dict(type='SupConLoss', temperature=0.1,
        ...                      loss_weight=5.0),
        ...     loss_hks=dict(type='HierarchicalKnowledgeSynergyLoss',
        ...                   loss_weight=5.0))
    """

    #: The ReID model passes the (N,) modality tensor to :meth:`loss`.
    takes_modality = True

    def __init__(self,
                 in_channels: int = 2048,
                 num_classes: int = 0,
                 loss_id: Optional[dict] = dict(
                     type='CrossEntropyLoss', loss_weight=1.0),
                 loss_triplet: Optional[dict] = None,
                 loss_mmd: Optional[dict] = dict(
                     type='ClassWiseMMDLoss',
                     kernel_mul=2.0,
                     kernel_num=5,
                     loss_weight=0.25),
                 loss_supcon: Optional[dict] = dict(
                     type='SupConLoss',
                     temperature=0.1,
                     scale_by_temperature=True,
                     loss_weight=5.0),
                 loss_hks: Optional[dict] = dict(
                     type='HierarchicalKnowledgeSynergyLoss',
                     temperature=1.0,
                     loss_weight=5.0),
                 test_feature: str = 'bn',
                 init_cfg: Optional[dict] = None):
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            loss_id=loss_id,
            loss_triplet=loss_triplet,
            test_feature=test_feature,
            init_cfg=init_cfg)
        self.loss_mmd = MODELS.build(loss_mmd) if loss_mmd else None
        self.loss_supcon = MODELS.build(loss_supcon) if loss_supcon else None
        self.loss_hks = MODELS.build(loss_hks) if loss_hks else None

    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: List[DataSample],
             modality: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The named losses of a batch.

        Args:
            feats (Sequence[torch.Tensor]): The S stage features, each
                (N, D).
            data_samples (list[DataSample]): N samples with ``gt_label``.
            modality (torch.Tensor): Modality of every sample, (N,) long
                (from the data preprocessor).

        Returns:
            dict[str, torch.Tensor]: Scalar losses (and ``accuracy``).
        """
        if self.loss_hks is not None and len(feats) < 2:
            raise ValueError('MCLNetHead: loss_hks needs the features of at '
                             f'least 2 stages, got {len(feats)}; use a '
                             'DeepSupervisionNeck or set loss_hks=None')
        losses = super().loss(feats, data_samples)
        pooled = [f.flatten(1) for f in feats]
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            pooled[-1].device)
        if self.loss_mmd is not None:
            losses['loss_mmd'] = self.loss_mmd(pooled[-1], labels, modality)
        if self.loss_supcon is not None:
            for s, feat in enumerate(pooled, start=1):
                losses[f'loss_supcon_s{s}'] = self.loss_supcon(feat, labels)
        if self.loss_hks is not None:
            losses['loss_hks'] = self.loss_hks(pooled)
        return losses
