import math

import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.losses import HierarchicalKnowledgeSynergyLoss
from mmvireid.registry import MODELS


def _hand_value():
    """KL terms of p1 = (1/2, 1/2) and p2 = (3/4, 1/4), both directions."""
    kl_p2_p1 = .75 * math.log(.75 / .5) + .25 * math.log(.25 / .5)
    kl_p1_p2 = .5 * math.log(.5 / .75) + .5 * math.log(.5 / .25)
    return kl_p2_p1 + kl_p1_p2


def test_hand_worked_two_stages():
    # Sample 0: softmax(f1) = (1/2, 1/2), softmax(f2) = (3/4, 1/4); sample 1
    # has equal stage features (KL 0), so the batch mean halves the sum.
    f1 = torch.tensor([[0., 0.], [1., 2.]])
    f2 = torch.tensor([[math.log(3.), 0.], [1., 2.]])
    loss = HierarchicalKnowledgeSynergyLoss()([f1, f2])
    assert loss.item() == pytest.approx(_hand_value() / 2, rel=1e-6)
    weighted = HierarchicalKnowledgeSynergyLoss(loss_weight=5.)((f1, f2))
    assert weighted.item() == pytest.approx(5 * _hand_value() / 2, rel=1e-6)


def test_temperature_divides_logits_without_t_squared():
    f1 = torch.tensor([[0., 0.]])
    f2 = torch.tensor([[2 * math.log(3.), 0.]])
    loss = HierarchicalKnowledgeSynergyLoss(temperature=2.)([f1, f2])
    assert loss.item() == pytest.approx(_hand_value(), rel=1e-6)


def test_sums_ordered_pairs_like_loop_reference():
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(6, 10, generator=gen) for _ in range(4)]
    expected = 0.
    for i in range(4):
        for j in range(4):
            if i != j:
                expected += F.kl_div(F.log_softmax(feats[i] / .5, dim=1),
                                     F.softmax(feats[j] / .5, dim=1),
                                     reduction='batchmean').item()
    loss = HierarchicalKnowledgeSynergyLoss(.5, eps=0.,
                                            loss_weight=2.)(feats)
    assert loss.item() == pytest.approx(2 * expected, rel=1e-5)


def test_gradient_of_two_stages_by_hand():
    # Only term (1, 2) = KL(sg(p2) || p1) reaches f1:
    # d/df1 = (softmax(f1 / T) - softmax(f2 / T)) / (N * T).
    gen = torch.Generator().manual_seed(1)
    f1 = torch.randn(3, 5, generator=gen, requires_grad=True)
    f2 = torch.randn(3, 5, generator=gen, requires_grad=True)
    temperature = 2.
    HierarchicalKnowledgeSynergyLoss(temperature, eps=0.)([f1,
                                                           f2]).backward()
    with torch.no_grad():
        p1 = F.softmax(f1 / temperature, dim=1)
        p2 = F.softmax(f2 / temperature, dim=1)
    torch.testing.assert_close(f1.grad, (p1 - p2) / (3 * temperature))
    torch.testing.assert_close(f2.grad, (p2 - p1) / (3 * temperature))


def test_each_stage_gets_gradient_only_as_student():
    gen = torch.Generator().manual_seed(2)
    feats = [
        torch.randn(4, 6, generator=gen, requires_grad=True) for _ in range(3)
    ]
    grads = torch.autograd.grad(
        HierarchicalKnowledgeSynergyLoss(eps=0.)(feats), feats)
    for i in range(3):
        student = feats[i].detach().requires_grad_()
        as_student = sum(
            F.kl_div(F.log_softmax(student, dim=1),
                     F.softmax(feats[j].detach(), dim=1),
                     reduction='batchmean') for j in range(3) if j != i)
        (expected, ) = torch.autograd.grad(as_student, student)
        torch.testing.assert_close(grads[i], expected)


def test_bad_input_raises():
    loss = HierarchicalKnowledgeSynergyLoss()
    with pytest.raises(ValueError, match='at least 2 stage features'):
        loss([torch.randn(2, 3)])
    with pytest.raises(ValueError, match='same shape'):
        loss([torch.randn(2, 3), torch.randn(2, 4)])
    with pytest.raises(ValueError, match='same shape'):
        loss([torch.randn(3), torch.randn(3)])
    with pytest.raises(ValueError, match='temperature must be > 0'):
        HierarchicalKnowledgeSynergyLoss(temperature=-1.)
    with pytest.raises(ValueError, match='eps must be >= 0'):
        HierarchicalKnowledgeSynergyLoss(eps=-1e-8)


def test_build_from_registry():
    loss = MODELS.build(
        dict(type='HierarchicalKnowledgeSynergyLoss', loss_weight=5.))
    assert isinstance(loss, HierarchicalKnowledgeSynergyLoss)
    assert (loss.temperature, loss.loss_weight) == (1., 5.)


def _released_kl(target_logits, logits, eps=1e-8):
    """MCLNet's KL_divergence(target, student), restated: both softmaxes
    smoothed to (p + eps) / (1 + C eps), KL summed over channels, batch
    mean."""
    p = F.softmax(target_logits, dim=1)
    q = F.softmax(logits, dim=1)
    num_classes = p.size(1)
    p = (p + eps) / (1 + num_classes * eps)
    q = (q + eps) / (1 + num_classes * eps)
    return (p * (p / q).log()).sum(dim=1).mean()


def test_smoothing_matches_released_kl_with_gradient():
    gen = torch.Generator().manual_seed(3)
    # 3 peaked stages: their softmaxes underflow to 0 in places, where the
    # smoothing matters (a relative 1e-2 here)
    feats = [(20 * torch.randn(5, 64, generator=gen,
                               dtype=torch.float64)).requires_grad_()
             for _ in range(3)]
    loss = HierarchicalKnowledgeSynergyLoss(eps=1e-4, loss_weight=5.)(feats)
    expected = 5 * sum(
        _released_kl(feats[j].detach(), feats[i], eps=1e-4)
        for i in range(3) for j in range(3) if i != j)
    torch.testing.assert_close(loss, expected)
    plain = HierarchicalKnowledgeSynergyLoss(eps=0., loss_weight=5.)(feats)
    assert abs(plain.item() - loss.item()) > 1e-3 * loss.item()
    torch.testing.assert_close(torch.autograd.grad(loss, feats),
                               torch.autograd.grad(expected, feats))


def test_default_is_the_released_smoothing():
    gen = torch.Generator().manual_seed(4)
    feats = [torch.randn(4, 2048, generator=gen, dtype=torch.float64)
             for _ in range(4)]
    loss = HierarchicalKnowledgeSynergyLoss()(feats)
    expected = sum(
        _released_kl(feats[j], feats[i]) for i in range(4)
        for j in range(4) if i != j)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)


def test_float32_under_bf16_autocast(close_features):
    feats = [close_features(32, 2048, 0.95, seed=s) for s in range(4)]
    loss = HierarchicalKnowledgeSynergyLoss(loss_weight=5.)
    expected = loss([f.double() for f in feats])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(feats)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-3)
