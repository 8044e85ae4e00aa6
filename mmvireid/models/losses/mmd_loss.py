"""Class-wise multi-kernel MMD between the RGB and IR features of each pid."""
import torch
from torch import nn

from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB
from ..utils.precision import float32_forward


@MODELS.register_module()
class ClassWiseMMDLoss(nn.Module):
    r"""Class-wise maximum mean discrepancy between the two modalities.

    For every ``pid`` that has both RGB samples :math:`X` and IR samples
    :math:`Y` in the batch, the squared MMD (biased estimate, as in the DAN
    ``mmd_rbf`` code MCLNet uses) is

    .. math::
        \mathrm{MMD}^2 = \overline{k(X, X)} + \overline{k(Y, Y)}
            - 2\,\overline{k(X, Y)},

    where :math:`\overline{\cdot}` is the mean over all pairs (diagonals
    included) and :math:`k` is a sum of ``kernel_num`` Gaussian kernels
    :math:`\exp(-\|a - b\|^2 / \sigma_k)` with bandwidths
    :math:`\sigma_k = \sigma \cdot \mathrm{kernel\_mul}^{k - \lfloor
    \mathrm{kernel\_num} / 2 \rfloor}`, :math:`k = 0, \dots,
    \mathrm{kernel\_num} - 1`. The base :math:`\sigma` is the mean squared
    distance over the pairs of distinct samples of the joint set
    :math:`X \cup Y`, detached (it carries no gradient). The loss is the mean
    of :math:`\mathrm{MMD}^2` over those pids, times ``loss_weight``; a batch
    without such a pid gives 0 (with an all-zero gradient path to ``feats``).

    The squared distances come from direct differences of the features of
    each same-``pid`` pair, as in the released ``MarginMMD_Loss`` (MCLNet
    ``loss.py`` L203–205), and everything is computed in float32 under
    ``torch.autocast`` (:func:`float32_forward`): the expanded
    :math:`\|a\|^2 + \|b\|^2 - 2 a \cdot b` loses every digit in
    bfloat16 when the features are close. The released code also adds 1e-9
    to every bandwidth, which is not done here (a relative 1e-11 at the
    bandwidths of pooled ReID features).

    Args:
        kernel_mul (float): Ratio between neighbouring bandwidths.
            Defaults to 2.0.
        kernel_num (int): Number of Gaussian kernels. Defaults to 5.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss = dict(type='ClassWiseMMDLoss', kernel_mul=2.0, kernel_num=5,
        ...             loss_weight=0.25)
    """

    def __init__(self,
                 kernel_mul: float = 2.0,
                 kernel_num: int = 5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if kernel_mul <= 0 or kernel_num < 1:
            raise ValueError('ClassWiseMMDLoss: expected kernel_mul > 0 and '
                             f'kernel_num >= 1, got kernel_mul={kernel_mul}, '
                             f'kernel_num={kernel_num}')
        self.kernel_mul = kernel_mul
        self.kernel_num = kernel_num
        self.loss_weight = loss_weight

    @float32_forward
    def forward(self, feats: torch.Tensor, labels: torch.Tensor,
                modalities: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            feats (torch.Tensor): Features, shape (N, D).
            labels (torch.Tensor): ``pid`` of each feature, shape (N,).
            modalities (torch.Tensor): ``modality`` of each feature, shape
                (N,), ``RGB`` (0) or ``IR`` (1).

        Returns:
            torch.Tensor: The weighted loss, a scalar.
        """
        if feats.dim() != 2:
            raise ValueError('ClassWiseMMDLoss: feats must have shape (N, D), '
                             f'got {tuple(feats.shape)}')
        for name, value in (('labels', labels), ('modalities', modalities)):
            if value.shape != feats.shape[:1]:
                raise ValueError(
                    f'ClassWiseMMDLoss: {name} must have shape (N,) = '
                    f'({feats.size(0)},), got {tuple(value.shape)}')
        if not ((modalities == RGB) | (modalities == IR)).all():
            raise ValueError('ClassWiseMMDLoss: modalities must be RGB (0) or '
                             f'IR (1), got values {modalities.unique()}')

        # Vectorised over pids, on the same-pid pairs of the valid pids only
        # (sum of the squared group sizes, not N^2): a pid's MMD^2 is
        # sum_ij w_i w_j k(i, j) over its pairs, with w = 1/|X| on its RGB
        # and -1/|Y| on its IR samples.
        _, pid_index = labels.unique(return_inverse=True)
        is_rgb = modalities == RGB
        num_pids = int(pid_index.max()) + 1
        num_rgb = torch.bincount(pid_index[is_rgb], minlength=num_pids)
        num_ir = torch.bincount(pid_index[~is_rgb], minlength=num_pids)
        valid = (num_rgb > 0) & (num_ir > 0)
        if not valid.any():
            return feats.sum() * 0.
        row_valid = valid[pid_index]
        first, second = torch.nonzero(
            (pid_index[:, None] == pid_index[None, :]) & row_valid[:, None],
            as_tuple=True)
        pair_pid = pid_index[first]

        # Squared distances from direct differences, as the released
        # MarginMMD_Loss computes them: the expanded |a|^2 + |b|^2 - 2 a.b
        # cancels badly when the features are close (0 exactly on the
        # diagonal here).
        sq_dist = (feats[first] - feats[second]).pow(2).sum(dim=1)  # (M,)

        # Base bandwidth of each pid: mean squared distance between distinct
        # samples of its joint set (>= 2 samples for a valid pid), detached.
        num_joint = (num_rgb + num_ir).clamp_min(2)
        pair_sum = feats.new_zeros(num_pids).index_add(
            0, pair_pid, sq_dist.detach())
        base = pair_sum / (num_joint * (num_joint - 1))
        # A pid whose samples all coincide has base 0; its distances are 0
        # too, so any positive bandwidth gives the same kernel value.
        base = torch.where(valid & (base > 0), base, torch.ones_like(base))
        exponents = torch.arange(self.kernel_num,
                                 dtype=feats.dtype,
                                 device=feats.device) - self.kernel_num // 2
        bandwidths = base[pair_pid][:, None] * self.kernel_mul**exponents
        kernel = torch.exp(-sq_dist[:, None] / bandwidths).sum(dim=1)  # (M,)

        rgb_weight = 1. / num_rgb.clamp_min(1).to(feats)
        ir_weight = -1. / num_ir.clamp_min(1).to(feats)
        weight = torch.where(is_rgb, rgb_weight[pid_index],
                             ir_weight[pid_index])
        mmd_sum = (weight[first] * weight[second] * kernel).sum()
        loss = mmd_sum / valid.sum()
        return self.loss_weight * loss
