import math

import pytest
import torch

from mmvireid.models.losses import ClassWiseMMDLoss
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB


def _loop_mmd(feats, labels, modalities, kernel_mul, kernel_num):
    """DAN-style ``mmd_rbf`` per pid, with per-set means for unequal sizes."""
    values = []
    for pid in labels.unique().tolist():
        source = feats[(labels == pid) & (modalities == RGB)]
        target = feats[(labels == pid) & (modalities == IR)]
        if len(source) == 0 or len(target) == 0:
            continue
        total = torch.cat([source, target])
        n = len(total)
        dist = ((total[None] - total[:, None])**2).sum(dim=2)
        bandwidth = dist.detach().sum() / (n * n - n)
        bandwidth = bandwidth / kernel_mul**(kernel_num // 2)
        kernel = sum(
            torch.exp(-dist / (bandwidth * kernel_mul**k))
            for k in range(kernel_num))
        ns = len(source)
        values.append(kernel[:ns, :ns].mean() + kernel[ns:, ns:].mean() -
                      2 * kernel[:ns, ns:].mean())
    return sum(values) / len(values)


def _pair_value(kernel_num):
    """x = 0 (RGB), y = 1 (IR): base bandwidth 1, so k(x, y) sums
    exp(-1 / 2**(k - kernel_num // 2)) and k(x, x) = k(y, y) = kernel_num."""
    k_xy = sum(
        math.exp(-1 / 2**(k - kernel_num // 2)) for k in range(kernel_num))
    return 2 * kernel_num - 2 * k_xy


def _unequal_value():
    """RGB {0, 2}, IR {1} (1-D), one kernel: squared distances 4, 1, 1, base
    bandwidth 2 * (4 + 1 + 1) / (3 * 2) = 2, so k(d) = exp(-d / 2)."""
    k_xx = (1 + 1 + 2 * math.exp(-4 / 2)) / 4
    k_yy = 1.
    k_xy = (math.exp(-1 / 2) + math.exp(-1 / 2)) / 2
    return k_xx + k_yy - 2 * k_xy


def test_hand_worked_pair():
    feats = torch.tensor([[0.], [1.]])
    labels = torch.tensor([3, 3])
    modalities = torch.tensor([RGB, IR])
    one = ClassWiseMMDLoss(kernel_num=1)(feats, labels, modalities)
    assert one.item() == pytest.approx(2 - 2 * math.exp(-1), rel=1e-6)
    five = ClassWiseMMDLoss()(feats, labels, modalities)
    expected = 10 - 2 * (math.exp(-4) + math.exp(-2) + math.exp(-1) +
                         math.exp(-.5) + math.exp(-.25))
    assert _pair_value(5) == pytest.approx(expected)
    assert five.item() == pytest.approx(expected, rel=1e-6)


def test_hand_worked_unequal_counts():
    feats = torch.tensor([[0.], [2.], [1.]])
    loss = ClassWiseMMDLoss(kernel_num=1)(feats, torch.tensor([0, 0, 0]),
                                          torch.tensor([RGB, RGB, IR]))
    assert loss.item() == pytest.approx(_unequal_value(), rel=1e-6)


def test_averages_over_pids_in_both_modalities():
    # pid 7: the pair example shifted by 10 (distances unchanged); pid 3: the
    # unequal example; pid 5 is RGB only and must be ignored. Shuffled.
    feats = torch.tensor([[10.], [0.], [11.], [2.], [-4.], [1.], [6.]])
    labels = torch.tensor([7, 3, 7, 3, 5, 3, 5])
    modalities = torch.tensor([RGB, RGB, IR, RGB, RGB, IR, RGB])
    loss = ClassWiseMMDLoss(kernel_num=1, loss_weight=.25)(feats, labels,
                                                           modalities)
    expected = .25 * (_pair_value(1) + _unequal_value()) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('balanced', [True, False])
def test_matches_loop_reference_with_gradient(balanced):
    gen = torch.Generator().manual_seed(0 if balanced else 1)
    if balanced:  # 4 pids x (4 RGB + 4 IR), as a MCLNet batch
        labels = torch.arange(4).repeat_interleave(4).repeat(2)
        modalities = torch.tensor([RGB, IR]).repeat_interleave(16)
    else:  # irregular counts and a pid with IR only
        labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3])
        modalities = torch.tensor(
            [RGB, IR, IR, IR, RGB, RGB, RGB, RGB, IR, IR, IR])
    feats = torch.randn(len(labels),
                        6,
                        generator=gen,
                        dtype=torch.float64,
                        requires_grad=True)
    loss = ClassWiseMMDLoss(kernel_mul=1.5, kernel_num=4)(feats, labels,
                                                          modalities)
    expected = _loop_mmd(feats, labels, modalities, 1.5, 4)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(
        torch.autograd.grad(loss, feats)[0],
        torch.autograd.grad(expected, feats)[0])


def test_bandwidth_is_detached():
    # x = 0, y = t, one kernel, base bandwidth s = t**2 held fixed:
    # MMD^2 = 2 - 2 exp(-t**2 / s), d/dt = 4 t exp(-t**2 / s) / s = 4 / e at
    # t = 1. Were s differentiated, MMD^2 = 2 - 2 / e for every t: gradient 0.
    feats = torch.tensor([[0.], [1.]], requires_grad=True)
    ClassWiseMMDLoss(kernel_num=1)(feats, torch.tensor([0, 0]),
                                   torch.tensor([RGB, IR])).backward()
    torch.testing.assert_close(feats.grad,
                               torch.tensor([[-4 / math.e], [4 / math.e]]))


def test_degenerate_batches_give_zero_without_nan():
    single_modality = torch.randn(4, 3, requires_grad=True)
    loss = ClassWiseMMDLoss()(single_modality, torch.tensor([0, 0, 1, 1]),
                              torch.tensor([RGB, RGB, RGB, RGB]))
    assert loss.item() == 0.
    loss.backward()
    assert torch.equal(single_modality.grad, torch.zeros(4, 3))

    coinciding = torch.ones(4, 3, requires_grad=True)
    loss = ClassWiseMMDLoss()(coinciding, torch.tensor([0, 0, 0, 0]),
                              torch.tensor([RGB, RGB, IR, IR]))
    assert loss.item() == 0.
    loss.backward()
    assert torch.equal(coinciding.grad, torch.zeros(4, 3))


def test_bad_input_raises():
    loss = ClassWiseMMDLoss()
    feats, labels = torch.randn(4, 2), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match='feats must have shape'):
        loss(torch.randn(4), labels, torch.tensor([RGB, IR, RGB, IR]))
    with pytest.raises(ValueError, match='labels must have shape'):
        loss(feats, labels[:3], torch.tensor([RGB, IR, RGB, IR]))
    with pytest.raises(ValueError, match='modalities must have shape'):
        loss(feats, labels, torch.tensor([RGB, IR]))
    with pytest.raises(ValueError, match='must be RGB'):
        loss(feats, labels, torch.tensor([RGB, 2, RGB, IR]))
    with pytest.raises(ValueError, match='kernel_num >= 1'):
        ClassWiseMMDLoss(kernel_num=0)


def test_build_from_registry():
    loss = MODELS.build(dict(type='ClassWiseMMDLoss', loss_weight=.25))
    assert isinstance(loss, ClassWiseMMDLoss)
    assert (loss.kernel_mul, loss.kernel_num, loss.loss_weight) == (2., 5, .25)


@pytest.mark.parametrize('cosine', [0.8, 0.99])
def test_float32_under_bf16_autocast(cosine, close_features):
    """Within 1e-3 of float64 where the expanded squared distances in
    bfloat16 were off by 1e-2 (cosine 0.8) to 120 % (0.99)."""
    labels = torch.arange(4).repeat_interleave(4).repeat(2)
    modalities = torch.tensor([RGB, IR]).repeat_interleave(16)
    feats = close_features(32, 256, cosine, seed=3)
    loss = ClassWiseMMDLoss()
    expected = loss(feats.double(), labels, modalities)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(feats, labels, modalities)
        bf16_value = loss(feats.bfloat16(), labels, modalities)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-3)
    # bf16 inputs are rounded features: the float32 computation on them is
    # the float64 one on the same rounded values
    assert bf16_value.item() == pytest.approx(
        loss(feats.bfloat16().double(), labels, modalities).item(), rel=1e-3)
