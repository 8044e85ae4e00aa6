import itertools
import math

import pytest
import torch

from mmvireid.models.losses import InstanceDiscriminationLoss
from mmvireid.models.memories import InstanceMemory
from mmvireid.registry import MODELS

E = math.exp
# slots (1, 0), (0, 1), (-1, 0), (0, -1)
BANK = torch.tensor([[1., 0.], [0., 1.], [-1., 0.], [0., -1.]])


def memory_of(bank):
    """An instance memory holding ``bank`` as it is."""
    memory = InstanceMemory(bank.shape[1])
    memory.features = bank
    return memory


MEMORY = memory_of(BANK)


def test_hand_worked_full_bank():
    q = torch.tensor([[1., 0.], [.6, .8]])
    indices = torch.tensor([0, 1])
    tau = 0.5
    # query 0: logits 2, 0, -2, 0; query 1: 1.2, 1.6, -1.2, -1.6
    loss0 = -2 + math.log(E(2) + 1 + E(-2) + 1)
    loss1 = -1.6 + math.log(E(1.2) + E(1.6) + E(-1.2) + E(-1.6))
    loss_fn = MODELS.build(
        dict(type='InstanceDiscriminationLoss', temperature=tau))
    assert loss_fn(q, indices, MEMORY).item() == pytest.approx(
        (loss0 + loss1) / 2, rel=1e-6)


def test_soft_positives_add_nearest_other_slot():
    q = torch.tensor([[.8, .6]])
    tau = 0.5
    # own slot 0 (0.8); nearest other is slot 1 (0.6), not 3 (-0.6)
    logits = [1.6, 1.2, -1.6, -1.2]
    expected = -math.log((E(1.6) + E(1.2)) / sum(E(v) for v in logits))
    loss = InstanceDiscriminationLoss(tau, num_soft_positives=1)(
        q, torch.tensor([0]), MEMORY)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_all_other_slots_sampled_equals_full_bank():
    q = torch.tensor([[.6, .8]])
    full = InstanceDiscriminationLoss(0.5)(q, torch.tensor([2]), MEMORY)
    sampled = InstanceDiscriminationLoss(0.5,
                                         num_negatives=3)(q, torch.tensor([2]),
                                                          MEMORY)
    assert sampled.item() == pytest.approx(full.item(), rel=1e-6)
    full = InstanceDiscriminationLoss(0.5,
                                      num_soft_positives=1)(q,
                                                            torch.tensor([2]),
                                                            MEMORY)
    sampled = InstanceDiscriminationLoss(0.5,
                                         num_negatives=2,
                                         num_soft_positives=1)(
                                             q, torch.tensor([2]), MEMORY)
    assert sampled.item() == pytest.approx(full.item(), rel=1e-6)


def test_sampled_loss_is_one_of_the_hand_worked_subsets():
    q = torch.tensor([[.6, .8]])
    tau = 0.5
    logits = [1.2, 1.6, -1.2, -1.6]
    # own slot 0, two negatives out of slots 1, 2, 3
    possible = {
        pair:
        -logits[0] + math.log(E(logits[0]) + sum(E(logits[j]) for j in pair))
        for pair in itertools.combinations([1, 2, 3], 2)
    }
    loss_fn = InstanceDiscriminationLoss(tau, num_negatives=2)
    hit = set()
    for seed in range(30):
        generator = torch.Generator().manual_seed(seed)
        value = loss_fn(q, torch.tensor([0]), MEMORY, generator).item()
        match = [
            p for p, v in possible.items()
            if value == pytest.approx(v, rel=1e-6)
        ]
        assert match, value
        hit.update(match)
    assert hit == set(possible)


def test_sample_negatives_excludes_positives_and_covers_the_rest():
    loss_fn = InstanceDiscriminationLoss(num_negatives=5)
    positives = torch.tensor([[0, 7], [3, 7]])
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        negatives = loss_fn.sample_negatives(10, positives, generator)
        assert negatives.shape == (5, )
        assert len(set(negatives.tolist())) == 5
        assert not set(negatives.tolist()) & {0, 3, 7}
        seen.update(negatives.tolist())
    assert seen == {1, 2, 4, 5, 6, 8, 9}


def test_sample_negatives_by_rejection_is_uniform():
    """K <= half of the available slots: drawn with replacement, positives
    and repeats dropped. Every available slot equally often (chi-square at
    five standard deviations), each draw K distinct non-positive slots."""
    loss_fn = InstanceDiscriminationLoss(num_negatives=20)
    positives = torch.arange(0, 200, 20)  # 10 slots
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(200)
    for _ in range(400):
        negatives = loss_fn.sample_negatives(200, positives, generator)
        assert negatives.tolist() == sorted(set(negatives.tolist()))
        assert len(negatives) == 20
        counts[negatives] += 1
    assert not counts[positives].any()
    observed = counts[counts.new_ones(200).index_fill_(0, positives,
                                                       0).bool()]
    expected = 400 * 20 / 190
    chi2 = float(((observed - expected)**2 / expected).sum())
    assert abs(chi2 - 189) < 5 * math.sqrt(2 * 189)


def test_generator_and_global_rng_reproducible():
    g = torch.Generator().manual_seed(0)
    bank = torch.nn.functional.normalize(torch.randn(50, 8, generator=g),
                                         dim=1)
    q = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=1)
    indices = torch.tensor([1, 7, 9, 30])
    loss_fn = InstanceDiscriminationLoss(num_negatives=10)
    memory = memory_of(bank)
    a = loss_fn(q, indices, memory, torch.Generator().manual_seed(3))
    b = loss_fn(q, indices, memory, torch.Generator().manual_seed(3))
    assert a.item() == b.item()
    torch.manual_seed(11)
    c = loss_fn(q, indices, memory)
    torch.manual_seed(11)
    d = loss_fn(q, indices, memory)
    assert c.item() == d.item()


def test_gradient_reaches_queries_not_bank():
    bank = BANK.clone().requires_grad_()
    q = torch.tensor([[.6, .8]], requires_grad=True)
    loss = InstanceDiscriminationLoss(0.5,
                                      num_negatives=2,
                                      num_soft_positives=1)(
                                          q, torch.tensor([0]),
                                          memory_of(bank))
    loss.backward()
    assert bank.grad is None
    assert torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0


def test_loss_weight_scales():
    q = torch.tensor([[1., 0.]])
    base = InstanceDiscriminationLoss(0.5)(q, torch.tensor([0]), MEMORY)
    scaled = InstanceDiscriminationLoss(0.5,
                                        loss_weight=0.25)(q, torch.tensor([0]),
                                                          MEMORY)
    assert scaled.item() == pytest.approx(0.25 * base.item())


def test_bad_input_raises():
    # (the range of the indices is checked once per batch by
    # CrossModalMemory.check_batch, tests/test_models/test_memories)
    with pytest.raises(ValueError, match='only 1 of 4 memory slots'):
        InstanceDiscriminationLoss(num_negatives=2)(torch.eye(2).repeat(
            3, 1)[:3], torch.tensor([0, 1, 2]), MEMORY)
    with pytest.raises(ValueError, match='num_soft_positives=4'):
        InstanceDiscriminationLoss(num_soft_positives=4)(torch.eye(2)[:1],
                                                         torch.tensor([0]),
                                                         MEMORY)
    with pytest.raises(ValueError, match=r'indices \(B,\)'):
        InstanceDiscriminationLoss()(torch.eye(2), torch.tensor([0]), MEMORY)
