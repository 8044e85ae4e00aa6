"""Supervised contrastive loss with every same-pid sample as a positive."""
import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.registry import MODELS
from ..utils.precision import float32_forward


@MODELS.register_module()
class SupConLoss(nn.Module):
    r"""Multi-positive supervised contrastive loss (SupCon).

    Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020, in the form
    used by MCLNet (``SupConLoss(temperature, scale_by_temperature)``). The
    features are L2-normalised and, for every anchor :math:`i`,

    .. math::
        \ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp(z_i \cdot z_p / \tau)}
                      {\sum_{a \neq i} \exp(z_i \cdot z_a / \tau)}

    where :math:`P(i)` holds every other sample with the same ``pid`` (a
    VI-ReID batch holds RGB and IR images of each pid, so positives span both
    modalities) and the denominator runs over all samples but :math:`i`. The
    loss is the mean of :math:`\ell_i` over the anchors with at least one
    positive, times :math:`\tau` when ``scale_by_temperature`` is set, times
    ``loss_weight``. A batch in which no anchor has a positive gives 0 (with
    a gradient path to ``feats``, all zeros). The similarities, logits and
    log-probabilities are computed in float32 under ``torch.autocast``
    (:func:`float32_forward`): at :math:`\tau = 0.1` a logit formed in
    bfloat16 is off by a few hundredths.

    Args:
        temperature (float): Softmax temperature :math:`\tau`, > 0.
            Defaults to 0.1.
        scale_by_temperature (bool): Multiply the loss by :math:`\tau`, which
            keeps the gradient magnitude independent of :math:`\tau`.
            Defaults to True.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss = dict(type='SupConLoss', temperature=0.1, loss_weight=5.0)
    """

    def __init__(self,
                 temperature: float = 0.1,
                 scale_by_temperature: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError('SupConLoss: temperature must be > 0, got '
                             f'{temperature}')
        self.temperature = temperature
        self.scale_by_temperature = scale_by_temperature
        self.loss_weight = loss_weight

    @float32_forward
    def forward(self, feats: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            feats (torch.Tensor): Features, shape (N, D); normalised here.
            labels (torch.Tensor): ``pid`` of each feature, shape (N,).

        Returns:
            torch.Tensor: The weighted loss, a scalar.
        """
        if feats.dim() != 2:
            raise ValueError('SupConLoss: feats must have shape (N, D), got '
                             f'{tuple(feats.shape)}')
        if labels.shape != feats.shape[:1]:
            raise ValueError('SupConLoss: labels must have shape (N,) = '
                             f'({feats.size(0)},), got {tuple(labels.shape)}')
        num = feats.size(0)
        self_mask = torch.eye(num, dtype=torch.bool, device=feats.device)
        pos_mask = (labels[:, None] == labels[None, :]) & ~self_mask
        num_pos = pos_mask.sum(dim=1)
        has_pos = num_pos > 0
        if not has_pos.any():
            return feats.sum() * 0.

        feats = F.normalize(feats, dim=1)
        logits = (feats @ feats.t() / self.temperature).masked_fill(
            self_mask, float('-inf'))
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        mean_log_prob_pos = log_prob.masked_fill(
            ~pos_mask, 0.).sum(dim=1)[has_pos] / num_pos[has_pos]
        loss = -mean_log_prob_pos.mean()
        if self.scale_by_temperature:
            loss = loss * self.temperature
        return self.loss_weight * loss
