import math

import pytest
import torch

from mmvireid.models.losses import SupConLoss
from mmvireid.registry import MODELS


def _loop_supcon(feats, labels, temperature, scale_by_temperature):
    """Textbook SupCon: one anchor, one positive at a time."""
    z = [f / f.norm() for f in feats]
    num = len(z)
    anchor_losses = []
    for i in range(num):
        positives = [
            p for p in range(num) if p != i and labels[p] == labels[i]
        ]
        if not positives:
            continue
        denom = sum(
            math.exp(float(z[i] @ z[a]) / temperature) for a in range(num)
            if a != i)
        anchor_losses.append(-sum(
            float(z[i] @ z[p]) / temperature - math.log(denom)
            for p in positives) / len(positives))
    loss = sum(anchor_losses) / len(anchor_losses)
    return loss * temperature if scale_by_temperature else loss


def test_hand_worked_single_positive():
    # Normalised: z0 = (1, 0), z1 = (0, 1), z2 = (-1, 0); sample 2 has no
    # positive and only enters the denominators.
    feats = torch.tensor([[3., 0.], [0., .5], [-2., 0.]])
    labels = torch.tensor([0, 0, 1])
    tau = .5
    loss0 = math.log(1 + math.exp(-1 / tau))  # sims to 1, 2: 0 and -1
    loss1 = math.log(2.)  # sims to 0, 2: 0 and 0
    expected = (loss0 + loss1) / 2
    assert SupConLoss(tau)(feats,
                           labels).item() == pytest.approx(tau * expected,
                                                           rel=1e-6)
    assert SupConLoss(
        tau, scale_by_temperature=False)(feats, labels).item() == \
        pytest.approx(expected, rel=1e-6)
    assert SupConLoss(tau, loss_weight=3.)(
        feats, labels).item() == pytest.approx(3 * tau * expected, rel=1e-6)


def test_hand_worked_multi_positive():
    # Anchor 0 has positives 1 and 2 (sims 0, 0) and negative 3 (sim 1);
    # anchors 1 and 2 see three samples at sim 0; anchor 3 has no positive.
    feats = torch.tensor([[1., 0., 0.], [0., 1., 0.], [0., 0., 1.],
                          [1., 0., 0.]])
    labels = torch.tensor([4, 4, 4, 9])
    loss0 = -(2 * (0 - math.log(2 + math.e))) / 2
    loss1 = loss2 = math.log(3.)
    expected = (loss0 + loss1 + loss2) / 3
    assert SupConLoss(1.)(feats, labels).item() == pytest.approx(expected,
                                                                 rel=1e-6)


@pytest.mark.parametrize('scale_by_temperature', [True, False])
def test_matches_loop_reference(scale_by_temperature):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    # 3 pids x (2 RGB + 2 IR) plus ids 7, 8 without positives.
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 7, 8])
    labels = labels[torch.randperm(12, generator=gen)]
    loss = SupConLoss(0.1, scale_by_temperature)(feats, labels)
    assert loss.item() == pytest.approx(_loop_supcon(feats, labels, 0.1,
                                                     scale_by_temperature),
                                        rel=1e-9)


def test_gradient_matches_finite_differences():
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(8,
                        4,
                        generator=gen,
                        dtype=torch.float64,
                        requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 3, 0])
    assert torch.autograd.gradcheck(lambda f: SupConLoss(0.3)(f, labels),
                                    (feats, ))


def test_no_positive_gives_zero_with_gradient_path():
    for num in (1, 4):
        feats = torch.randn(num, 3, requires_grad=True)
        loss = SupConLoss()(feats, torch.arange(num))
        assert loss.item() == 0.
        loss.backward()
        assert torch.equal(feats.grad, torch.zeros(num, 3))


def test_bad_input_raises():
    loss = SupConLoss()
    with pytest.raises(ValueError, match='feats must have shape'):
        loss(torch.randn(4), torch.arange(4))
    with pytest.raises(ValueError, match=r'labels must have shape \(N,\)'):
        loss(torch.randn(4, 2), torch.arange(3))
    with pytest.raises(ValueError, match='temperature must be > 0'):
        SupConLoss(temperature=0.)


def test_build_from_registry():
    loss = MODELS.build(dict(type='SupConLoss', temperature=.2,
                             loss_weight=5.))
    assert isinstance(loss, SupConLoss)
    assert (loss.temperature, loss.loss_weight) == (.2, 5.)


@pytest.mark.parametrize('cosine', [0.8, 0.99])
def test_float32_under_bf16_autocast(cosine, close_features):
    labels = torch.arange(4).repeat_interleave(4).repeat(2)
    feats = close_features(32, 256, cosine, seed=4)
    loss = SupConLoss(temperature=0.1, loss_weight=5.0)
    expected = loss(feats.double(), labels)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(feats, labels)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-3)
