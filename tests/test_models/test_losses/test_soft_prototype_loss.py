import math

import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.losses import (ClusterContrastLoss,
                                    SoftPrototypeContrastLoss)
from mmvireid.models.memories import ClusterBank
from mmvireid.registry import MODELS

E = math.exp


def bank_of(centroids, prototypes, mask=None, temperature=0.05):
    """A bank whose clusters have exactly ``prototypes[y][mask[y]]`` as
    members, so that a loss with n >= their number selects them all."""
    if mask is None:
        mask = torch.ones(prototypes.shape[:2], dtype=torch.bool)
    clusters, slots = mask.nonzero(as_tuple=True)
    return ClusterBank(centroids, temperature, prototypes[clusters, slots],
                       clusters)


def _naive_loss(q, y, centroids, prototypes, mask, alpha, tau, tau_w, soft):
    """L_sp of one query, term by term in float64 Python."""
    q, centroids, prototypes = (t.double() for t in (q, centroids, prototypes))
    kept = [j for j in range(prototypes.shape[1]) if mask[y][j]]
    if soft:
        scores = [
            E(
                float(
                    F.cosine_similarity(prototypes[y, j], centroids[y], dim=0))
                / tau_w) for j in kept
        ]
    else:
        scores = [1.0] * len(kept)
    weights = [s / sum(scores) for s in scores]
    positive = alpha * E(float(q @ centroids[y]) / tau) + (1 - alpha) * sum(
        w * E(float(q @ prototypes[y, j]) / tau)
        for w, j in zip(weights, kept))
    others = sum(
        E(float(q @ centroids[c]) / tau) for c in range(len(centroids))
        if c != y)
    return -math.log(positive / (positive + others))


def _toy():
    centroids = torch.tensor([[1., 0.], [0., 1.]])
    prototypes = torch.tensor([[[.8, .6], [.6, .8]], [[.6, .8], [-.6, .8]]])
    return centroids, prototypes


def test_hand_worked_two_clusters():
    centroids, prototypes = _toy()
    q = torch.tensor([[1., 0.], [.6, .8], [0., -1.]])
    labels = torch.tensor([0, 1, -1])
    tau, tau_w = 0.5, 0.1
    # query 0, y = 0: weights softmax(0.8 / 0.1, 0.6 / 0.1)
    w = (E(8) / (E(8) + E(6)), E(6) / (E(8) + E(6)))
    pos0 = 0.5 * E(1 / tau) + 0.5 * (w[0] * E(.8 / tau) + w[1] * E(.6 / tau))
    loss0 = -math.log(pos0 / (pos0 + E(0 / tau)))
    # query 1, y = 1: cos(p, c1) = 0.8 and 0.8 -> weights 1/2 each
    pos1 = 0.5 * E(.8 / tau) + 0.5 * (0.5 * E(1. / tau) + 0.5 * E(.28 / tau))
    loss1 = -math.log(pos1 / (pos1 + E(.6 / tau)))
    loss = MODELS.build(
        dict(type='SoftPrototypeContrastLoss',
             temperature=tau,
             weight_temperature=tau_w))(q, labels,
                                        bank_of(centroids, prototypes))
    assert loss.item() == pytest.approx((loss0 + loss1) / 2, rel=1e-5)


def test_soft_weights_sum_to_one_and_follow_similarity():
    centroids, prototypes = _toy()
    weights = SoftPrototypeContrastLoss(weight_temperature=0.1).soft_weights(
        centroids, prototypes)
    assert torch.allclose(weights.sum(1), torch.ones(2))
    assert weights[0, 0].item() == pytest.approx(E(8) / (E(8) + E(6)))
    assert torch.allclose(weights[1], torch.tensor([.5, .5]))


def test_uniform_weights_without_soft_weighting():
    centroids, prototypes = _toy()
    loss_fn = SoftPrototypeContrastLoss(temperature=0.5, soft_weighting=False)
    mask = torch.tensor([[True, True], [True, False]])
    assert torch.allclose(loss_fn.soft_weights(centroids, prototypes, mask),
                          torch.tensor([[.5, .5], [1., 0.]]))
    q = torch.tensor([[1., 0.]])
    pos = 0.5 * E(2.) + 0.5 * (0.5 * E(1.6) + 0.5 * E(1.2))
    expected = -math.log(pos / (pos + E(0.)))
    assert loss_fn(q, torch.tensor([0]),
                   bank_of(centroids, prototypes,
                           mask)).item() == pytest.approx(expected, rel=1e-6)


def test_alpha_one_reduces_to_cluster_contrast():
    g = torch.Generator().manual_seed(0)
    centroids = F.normalize(torch.randn(5, 8, generator=g), dim=1)
    prototypes = F.normalize(torch.randn(5, 3, 8, generator=g), dim=2)
    q = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    labels = torch.tensor([0, 4, -1, 2, 2, 1])
    sp = SoftPrototypeContrastLoss(alpha=1.0, temperature=0.05)
    bank = bank_of(centroids, prototypes)
    expected = ClusterContrastLoss()(q, labels, bank)
    assert sp(q, labels,
              bank).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize('soft', [True, False])
@pytest.mark.parametrize('alpha', [0.0, 0.3, 0.5])
def test_matches_naive_reference_with_missing_prototypes(soft, alpha):
    g = torch.Generator().manual_seed(1)
    centroids = F.normalize(torch.randn(4, 6, generator=g), dim=1)
    prototypes = F.normalize(torch.randn(4, 3, 6, generator=g), dim=2)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]]).bool()
    q = F.normalize(torch.randn(7, 6, generator=g), dim=1)
    labels = torch.tensor([0, 1, 2, 3, -1, 1, 2])
    kwargs = dict(alpha=alpha, tau=0.2, tau_w=0.1, soft=soft)
    expected = [
        _naive_loss(q[i], y, centroids, prototypes, mask.tolist(), **kwargs)
        for i, y in enumerate(labels.tolist()) if y >= 0
    ]
    loss = SoftPrototypeContrastLoss(num_soft_prototypes=3,
                                     alpha=alpha,
                                     temperature=0.2,
                                     weight_temperature=0.1,
                                     soft_weighting=soft)(
                                         q, labels,
                                         bank_of(centroids, prototypes, mask))
    assert loss.item() == pytest.approx(sum(expected) / len(expected),
                                        rel=1e-5)


def test_log_space_is_stable_at_small_temperature():
    # q·c / tau reaches 200: exp overflows float32, not float64
    centroids, prototypes = _toy()
    q = torch.tensor([[1., 0.]])
    tau = 0.005
    loss = SoftPrototypeContrastLoss(temperature=tau)(
        q, torch.tensor([0]), bank_of(centroids, prototypes))
    assert math.isfinite(loss.item())
    expected = _naive_loss(q[0], 0, centroids, prototypes, [[True, True]] * 2,
                           0.5, tau, 0.1, True)
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_gradient_reaches_queries_only():
    centroids, prototypes = _toy()
    centroids.requires_grad_()
    prototypes.requires_grad_()
    q = torch.tensor([[.6, .8], [1., 0.]], requires_grad=True)
    loss = SoftPrototypeContrastLoss(alpha=1.0)(
        q, torch.tensor([0, 1]), bank_of(centroids, prototypes))
    loss.backward()
    assert torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0
    assert centroids.grad is None and prototypes.grad is None


def test_no_valid_query_gives_zero_with_grad_path():
    centroids, prototypes = _toy()
    q = torch.tensor([[1., 0.]], requires_grad=True)
    loss = SoftPrototypeContrastLoss()(q, torch.tensor([-1]),
                                       bank_of(centroids, prototypes))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(q.grad, torch.zeros(1, 2))


def test_cross_modal_term_is_the_loss_on_the_other_bank():
    # RGB clusters 0, 1, 2 matched to IR clusters 1, -, 0: the associated
    # labels (CrossModalMemory.associated_labels) of RGB labels 0, 1, 2, -1
    associated = torch.tensor([1, -1, 0, -1])
    ir_centroids, ir_prototypes = _toy()
    q = torch.tensor([[1., 0.], [.6, .8], [0., 1.], [1., 0.]])
    tau = 0.5
    loss = SoftPrototypeContrastLoss(temperature=tau)(
        q, associated, bank_of(ir_centroids, ir_prototypes))
    # only query 0 (-> IR 1) and query 2 (-> IR 0) count
    expected = [
        _naive_loss(q[0], 1, ir_centroids, ir_prototypes, [[1, 1]] * 2, .5,
                    tau, .1, True),
        _naive_loss(q[2], 0, ir_centroids, ir_prototypes, [[1, 1]] * 2, .5,
                    tau, .1, True)
    ]
    assert loss.item() == pytest.approx(sum(expected) / 2, rel=1e-5)


def test_a_memory_without_clusters_gives_zero():
    q = torch.tensor([[1., 0.]], requires_grad=True)
    empty = ClusterBank(torch.zeros(0, 2), 0.05, torch.zeros(0, 2),
                        torch.zeros(0, dtype=torch.long))
    loss = SoftPrototypeContrastLoss()(q, torch.tensor([-1]), empty)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(q.grad, torch.zeros(1, 2))


def test_bad_input_raises():
    # (the range of the labels is checked once per batch by
    # CrossModalMemory.check_batch, tests/test_models/test_memories)
    centroids, prototypes = _toy()
    with pytest.raises(ValueError, match='alpha'):
        SoftPrototypeContrastLoss(alpha=1.5)
    with pytest.raises(ValueError, match='expected queries'):
        SoftPrototypeContrastLoss()(torch.eye(3), torch.tensor([0, 1, 0]),
                                    bank_of(centroids, prototypes))
    with pytest.raises(ValueError, match='at least one soft prototype'):
        SoftPrototypeContrastLoss(alpha=0.0)(
            torch.eye(2), torch.tensor([0, 1]),
            bank_of(centroids, prototypes,
                    torch.tensor([[True, True], [False, False]])))
    with pytest.raises(ValueError, match='instance memory'):
        SoftPrototypeContrastLoss()(torch.eye(2), torch.tensor([0, 1]),
                                    ClusterBank(centroids, 0.05))


def test_hand_worked_self_exclusion():
    """A query of slot 0 in cluster 0 = {slot 0: cos .8, slot 1: cos .6}
    with n = 1: its soft prototype is slot 1, not itself."""
    centroids = torch.tensor([[1., 0.], [0., 1.]])
    instances = torch.tensor([[.8, .6], [.6, .8], [.6, .8], [-.6, .8]])
    members = torch.tensor([0, 0, 1, 1])
    q = torch.tensor([[1., 0.]])
    tau = 0.5

    def expected(p):  # alpha 0.5, one prototype (weight 1), negative c_1
        pos = 0.5 * E(1 / tau) + 0.5 * E(p / tau)
        return -math.log(pos / (pos + E(0 / tau)))

    bank = ClusterBank(centroids, tau, instances, members,
                       slots=torch.tensor([0]))
    loss = SoftPrototypeContrastLoss(num_soft_prototypes=1, temperature=tau)
    assert loss(q, torch.tensor([0]), bank).item() == pytest.approx(
        expected(.6), rel=1e-6)
    with_self = SoftPrototypeContrastLoss(num_soft_prototypes=1,
                                          temperature=tau,
                                          exclude_self=False)
    assert with_self(q, torch.tensor([0]), bank).item() == pytest.approx(
        expected(.8), rel=1e-6)
    # a cluster of one image: no prototype left, the centroid term alone
    # (alpha = 0 would leave no positive)
    bank = ClusterBank(centroids, tau, instances[:1], torch.tensor([0]),
                       slots=torch.tensor([0]))
    pos = 0.5 * E(1 / tau)
    assert loss(q, torch.tensor([0]), bank).item() == pytest.approx(
        -math.log(pos / (pos + 1)), rel=1e-6)
    with pytest.raises(ValueError, match='other than itself'):
        SoftPrototypeContrastLoss(num_soft_prototypes=1, alpha=0.0)(
            q, torch.tensor([0]), bank)
