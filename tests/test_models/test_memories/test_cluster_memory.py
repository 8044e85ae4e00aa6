import math

import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.memories import ClusterMemory
from mmvireid.registry import MODELS


def _loop_update(memory, feats, labels, momentum):
    """Textbook update: one sample at a time, in batch order."""
    memory = memory.clone().double()
    for q, y in zip(feats.double(), labels.tolist()):
        if y < 0:
            continue
        v = momentum * memory[y] + (1 - momentum) * q
        memory[y] = v / v.norm()
    return memory


def _loop_hard_update(memory, feats, labels, momentum):
    """Each class present once, with its least similar sample (first)."""
    memory = memory.clone().double()
    feats = feats.double()
    for y in sorted(set(labels.tolist()) - {-1}):
        rows = [i for i, label in enumerate(labels.tolist()) if label == y]
        sims = [float(feats[i] @ memory[y]) for i in rows]
        q = feats[rows[sims.index(min(sims))]]
        v = momentum * memory[y] + (1 - momentum) * q
        memory[y] = v / v.norm()
    return memory


def _random_batch(seed, num_classes=5, dim=8, batch=30):
    g = torch.Generator().manual_seed(seed)
    centroids = F.normalize(torch.randn(num_classes, dim, generator=g), dim=1)
    feats = F.normalize(torch.randn(batch, dim, generator=g), dim=1)
    labels = torch.randint(-1, num_classes, (batch, ), generator=g)
    return centroids, feats, labels


def test_builds_from_config_and_starts_empty():
    memory = MODELS.build(dict(type='ClusterMemory', feat_dim=4))
    assert isinstance(memory, ClusterMemory)
    assert memory.features.shape == (0, 4) and len(memory) == 0
    assert not memory.features.requires_grad
    assert 'features' in dict(memory.named_buffers())


def test_reset_resizes_and_normalises():
    memory = ClusterMemory(2)
    memory.reset(torch.tensor([[3., 4.], [0., 2.]]))
    assert torch.allclose(memory.features, torch.tensor([[.6, .8], [0., 1.]]))
    memory.reset(torch.tensor([[1., 1.], [-2., 0.], [0., -5.]]))
    s = 1 / math.sqrt(2)
    assert torch.allclose(memory.features,
                          torch.tensor([[s, s], [-1., 0.], [0., -1.]]))
    memory.reset(torch.zeros(0, 2))
    assert len(memory) == 0


def test_reset_keeps_dtype_and_detaches():
    memory = ClusterMemory(2).double()
    centroids = torch.tensor([[1., 0.]], requires_grad=True)
    memory.reset(centroids)
    assert memory.features.dtype == torch.float64
    assert not memory.features.requires_grad


def test_logits_hand_values_and_gradient_only_to_queries():
    memory = ClusterMemory(2, temperature=0.5)
    memory.reset(torch.tensor([[1., 0.], [0., 1.], [-1., 0.]]))
    q = torch.tensor([[.6, .8]], requires_grad=True)
    logits = memory.logits(q)
    assert torch.allclose(logits, torch.tensor([[1.2, 1.6, -1.2]]))
    logits.sum().backward()
    # d/dq of sum_c q·m_c / tau = (1 + 0 - 1, 0 + 1 + 0) / 0.5
    assert torch.allclose(q.grad, torch.tensor([[0., 2.]]))
    assert memory.features.grad is None


def test_momentum_convention_old_value_keeps_mu():
    memory = ClusterMemory(2, momentum=0.1)
    memory.reset(torch.tensor([[1., 0.], [0., 1.]]))
    memory.update(torch.tensor([[0., 1.]]), torch.tensor([0]))
    # 0.1 * (1, 0) + 0.9 * (0, 1) = (0.1, 0.9), then normalised
    norm = math.sqrt(0.1**2 + 0.9**2)
    assert torch.allclose(memory.features,
                          torch.tensor([[0.1 / norm, 0.9 / norm], [0., 1.]]))


def test_two_samples_of_one_class_apply_in_batch_order():
    memory = ClusterMemory(2, momentum=0.1)
    memory.reset(torch.tensor([[1., 0.]]))
    memory.update(torch.tensor([[0., 1.], [-1., 0.]]), torch.tensor([0, 0]))
    # first (0, 1): a = (0.1, 0.9) / sqrt(0.82)
    a = (0.1 / math.sqrt(0.82), 0.9 / math.sqrt(0.82))
    # then (-1, 0): 0.1 * a + 0.9 * (-1, 0)
    v = (0.1 * a[0] - 0.9, 0.1 * a[1])
    norm = math.hypot(*v)
    expected = torch.tensor([[v[0] / norm, v[1] / norm]])
    assert torch.allclose(memory.features, expected, atol=1e-6)
    # the other order would give (-0.1, 0.9) / sqrt(0.82)
    assert not torch.allclose(memory.features,
                              torch.tensor([[-0.1, 0.9]]) / math.sqrt(0.82),
                              atol=1e-3)


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('momentum', [0.1, 0.5, 0.9])
def test_mean_mode_matches_loop_reference(seed, momentum):
    centroids, feats, labels = _random_batch(seed)
    memory = ClusterMemory(8, momentum=momentum)
    memory.reset(centroids)
    memory.update(feats, labels)
    expected = _loop_update(centroids, feats, labels, momentum)
    assert torch.allclose(memory.features.double(), expected, atol=1e-5)


def test_hard_mode_uses_least_similar_sample():
    memory = ClusterMemory(2, momentum=0.1, mode='hard')
    memory.reset(torch.tensor([[1., 0.], [0., 1.]]))
    feats = torch.tensor([[.6, .8], [0., 1.], [.8, .6], [-.6, .8]])
    memory.update(feats, torch.tensor([0, 0, 0, 1]))
    # class 0: sims 0.6, 0.0, 0.8 -> (0, 1); class 1: its only sample
    a = torch.tensor([0.1, 0.9]) / math.sqrt(0.82)
    b = torch.tensor([-0.54, 0.82])
    b = b / b.norm()
    assert torch.allclose(memory.features, torch.stack([a, b]), atol=1e-6)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_hard_mode_matches_loop_reference(seed):
    centroids, feats, labels = _random_batch(seed)
    memory = ClusterMemory(8, momentum=0.2, mode='hard')
    memory.reset(centroids)
    memory.update(feats, labels)
    expected = _loop_hard_update(centroids, feats, labels, 0.2)
    assert torch.allclose(memory.features.double(), expected, atol=1e-5)


@pytest.mark.parametrize('mode', ['mean', 'hard'])
def test_labels_minus_one_are_ignored(mode):
    memory = ClusterMemory(2, mode=mode)
    memory.reset(torch.tensor([[1., 0.], [0., 1.]]))
    before = memory.features.clone()
    memory.update(torch.tensor([[-1., 0.], [0., -1.]]), torch.tensor([-1, -1]))
    assert torch.equal(memory.features, before)
    memory.update(torch.tensor([[-1., 0.], [0., 1.]]), torch.tensor([-1, 1]))
    assert torch.equal(memory.features, before)


def test_update_does_not_track_gradients():
    memory = ClusterMemory(2)
    memory.reset(torch.tensor([[1., 0.]]))
    q = torch.tensor([[0., 1.]], requires_grad=True)
    memory.update(q, torch.tensor([0]))
    assert memory.features.grad_fn is None
    assert not memory.features.requires_grad


@pytest.mark.parametrize('mode', ['mean', 'hard'])
def test_ddp_ranks_end_identical(two_ranks, mode):
    centroids, feats, labels = _random_batch(3, batch=13)
    # uneven batches: rank 0 holds 7 samples, rank 1 holds 6
    batches = [(feats[:7], labels[:7]), (feats[7:], labels[7:])]
    memories = [ClusterMemory(8, momentum=0.3, mode=mode) for _ in range(2)]
    for memory in memories:
        memory.reset(centroids)

    def step(rank):
        return lambda: memories[rank].update(*batches[rank])

    two_ranks(step(0), step(1))
    reference = (_loop_update if mode == 'mean' else _loop_hard_update)(
        centroids, feats, labels, 0.3)
    assert torch.equal(memories[0].features, memories[1].features)
    assert torch.allclose(memories[0].features.double(), reference, atol=1e-5)


def test_bad_input_raises():
    with pytest.raises(ValueError, match='mode'):
        ClusterMemory(4, mode='median')
    with pytest.raises(ValueError, match='momentum'):
        ClusterMemory(4, momentum=1.5)
    memory = ClusterMemory(2)
    memory.reset(torch.eye(2))
    with pytest.raises(ValueError, match='labels must be -1'):
        memory.update(torch.eye(2), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r'feats must have shape \(B, 2\)'):
        memory.update(torch.ones(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r'labels must have shape \(2,\)'):
        memory.update(torch.eye(2), torch.tensor([0]))
    with pytest.raises(ValueError, match='feats must have shape'):
        memory.reset(torch.ones(3))
