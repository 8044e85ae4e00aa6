import math

import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.memories import InstanceMemory
from mmvireid.registry import MODELS


def _loop_update(memory, feats, indices, momentum):
    memory = memory.clone().double()
    for q, i in zip(feats.double(), indices.tolist()):
        if i < 0:
            continue
        v = momentum * memory[i] + (1 - momentum) * q
        memory[i] = v / v.norm()
    return memory


def test_builds_and_resets():
    memory = MODELS.build(dict(type='InstanceMemory', feat_dim=2))
    assert isinstance(memory, InstanceMemory) and len(memory) == 0
    memory.reset(torch.tensor([[3., 4.], [0., -2.], [5., 0.]]))
    assert torch.allclose(memory.features,
                          torch.tensor([[.6, .8], [0., -1.], [1., 0.]]))


def test_update_hand_value_and_duplicates_in_order():
    memory = InstanceMemory(2, momentum=0.1)
    memory.reset(torch.tensor([[1., 0.], [0., 1.]]))
    memory.update(torch.tensor([[0., 1.], [1., 0.], [-1., 0.]]),
                  torch.tensor([0, -1, 0]))
    a = (0.1 / math.sqrt(0.82), 0.9 / math.sqrt(0.82))
    v = (0.1 * a[0] - 0.9, 0.1 * a[1])
    norm = math.hypot(*v)
    assert torch.allclose(memory.features,
                          torch.tensor([[v[0] / norm, v[1] / norm], [0., 1.]]),
                          atol=1e-6)


@pytest.mark.parametrize('seed', [0, 1])
def test_update_matches_loop_reference(seed):
    g = torch.Generator().manual_seed(seed)
    bank = F.normalize(torch.randn(10, 6, generator=g), dim=1)
    feats = F.normalize(torch.randn(25, 6, generator=g), dim=1)
    indices = torch.randint(-1, 10, (25, ), generator=g)
    memory = InstanceMemory(6, momentum=0.4)
    memory.reset(bank)
    memory.update(feats, indices)
    assert torch.allclose(memory.features.double(),
                          _loop_update(bank, feats, indices, 0.4),
                          atol=1e-5)


def test_logits_all_and_selected_slots():
    memory = InstanceMemory(2, temperature=0.5)
    memory.reset(torch.tensor([[1., 0.], [0., 1.], [-1., 0.]]))
    q = torch.tensor([[.6, .8], [1., 0.]])
    assert torch.allclose(memory.logits(q),
                          torch.tensor([[1.2, 1.6, -1.2], [2., 0., -2.]]))
    assert torch.allclose(memory.logits(q, torch.tensor([2, 0])),
                          torch.tensor([[-1.2, 1.2], [-2., 2.]]))
    assert torch.allclose(memory.logits(q, torch.tensor([[1], [2]])),
                          torch.tensor([[1.6], [-2.]]))
    with pytest.raises(ValueError, match='indices must have shape'):
        memory.logits(q, torch.zeros(3, 1, dtype=torch.long))


def test_gradient_reaches_queries_not_memory():
    memory = InstanceMemory(2)
    memory.reset(torch.eye(2))
    q = torch.tensor([[1., 0.]], requires_grad=True)
    memory.logits(q, torch.tensor([1])).sum().backward()
    assert q.grad is not None and memory.features.grad is None
    memory.update(q, torch.tensor([1]))
    assert memory.features.grad_fn is None


def test_ddp_ranks_end_identical(two_ranks):
    g = torch.Generator().manual_seed(5)
    bank = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    feats = F.normalize(torch.randn(8, 4, generator=g), dim=1)
    # index 2 on both ranks: rank 0's sample applies first
    indices = torch.tensor([2, 0, 5, 1, 2, 3, -1, 0])
    memories = [InstanceMemory(4, momentum=0.2) for _ in range(2)]
    for memory in memories:
        memory.reset(bank)
    two_ranks(lambda: memories[0].update(feats[:4], indices[:4]),
              lambda: memories[1].update(feats[4:], indices[4:]))
    assert torch.equal(memories[0].features, memories[1].features)
    assert torch.allclose(memories[0].features.double(),
                          _loop_update(bank, feats, indices, 0.2),
                          atol=1e-5)


def test_bad_indices_raise():
    memory = InstanceMemory(2)
    memory.reset(torch.eye(2))
    with pytest.raises(ValueError, match=r'indices must be -1 .* \[0, 2\)'):
        memory.update(torch.eye(2), torch.tensor([0, 2]))
