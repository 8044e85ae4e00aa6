"""Triplet loss with batch-hard or weighted-regularisation mining."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvireid.registry import MODELS
from ..utils.precision import float32_forward


def pairwise_euclidean(feats: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between all rows, shape (N, N)."""
    sq = feats.pow(2).sum(dim=1, keepdim=True)
    dist = sq + sq.t() - 2 * feats @ feats.t()
    return dist.clamp(min=1e-12).sqrt()


def _softmax_weights(dist: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax of ``dist`` over the entries where ``mask`` is 1, per row."""
    max_v = torch.max(dist * mask, dim=1, keepdim=True)[0]
    exp = torch.exp(dist - max_v) * mask
    return exp / (exp.sum(dim=1, keepdim=True) + 1e-6)


@MODELS.register_module()
class TripletLoss(nn.Module):
    """Triplet loss on a batch of identities.

    ``mining='hard'``: batch-hard triplets (Hermans et al. 2017), for every
    anchor the furthest positive and the closest negative, hinge with
    ``margin``. ``mining='weighted'``: AGW's weighted regularisation triplet
    (Ye et al. 2021): positives and negatives weighted by a softmax of their
    distance (resp. negative distance), soft margin, no margin parameter.
    As in AGW, the positive set includes the anchor itself (distance 0).
    Computed in float32 under ``torch.autocast`` (:func:`float32_forward`).

    Args:
        margin (float): Hinge margin of ``'hard'`` mining. Defaults to 0.3.
        mining (str): ``'hard'`` or ``'weighted'``. Defaults to ``'hard'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Shapes:
        - feats: (N, D); labels: (N,) long. Output: scalar.

    Example:
        >>> loss_triplet = dict(type='TripletLoss', mining='weighted')
    """

    def __init__(self,
                 margin: float = 0.3,
                 mining: str = 'hard',
                 loss_weight: float = 1.0):
        super().__init__()
        if mining not in ('hard', 'weighted'):
            raise ValueError(
                f"TripletLoss: mining must be 'hard' or 'weighted', got "
                f'{mining!r}')
        self.margin = margin
        self.mining = mining
        self.loss_weight = loss_weight

    @float32_forward
    def forward(self, feats: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        dist = pairwise_euclidean(feats)
        is_pos = (labels[:, None] == labels[None, :]).to(dist.dtype)
        is_neg = 1 - is_pos
        if self.mining == 'hard':
            furthest_pos = (dist * is_pos).max(dim=1)[0]
            closest_neg = (dist + is_pos * dist.max().detach()).min(dim=1)[0]
            loss = F.relu(furthest_pos - closest_neg + self.margin).mean()
        else:
            dist_ap = dist * is_pos
            dist_an = dist * is_neg
            furthest_pos = (dist_ap * _softmax_weights(dist_ap, is_pos)).sum(1)
            closest_neg = (dist_an * _softmax_weights(-dist_an, is_neg)).sum(1)
            loss = F.softplus(furthest_pos - closest_neg).mean()
        return self.loss_weight * loss
