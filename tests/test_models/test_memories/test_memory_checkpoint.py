"""Memories in checkpoints and under autograd."""
import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.losses import ClusterContrastLoss
from mmvireid.models.memories import (ClusterMemory, CrossModalMemory,
                                      InstanceMemory)
from mmvireid.structures import RGB


@pytest.mark.parametrize('memory_cls', [ClusterMemory, InstanceMemory])
def test_bank_is_saved_and_loaded_at_its_saved_size(memory_cls):
    memory = memory_cls(3)
    bank = torch.tensor([[3., 4., 0.], [0., 0., 2.]])
    memory.reset(bank)
    state = memory.state_dict()
    assert set(state) == {'features'}
    fresh = memory_cls(3)
    assert fresh.features.shape == (0, 3)
    fresh.load_state_dict(state, strict=True)
    assert torch.equal(fresh.features,
                       torch.tensor([[.6, .8, 0.], [0., 0., 1.]]))
    # a bank of another feature dimension is torch's size mismatch
    with pytest.raises(RuntimeError, match='size mismatch'):
        memory_cls(4).load_state_dict(state)


def test_update_after_backward_writes_in_place_and_keeps_the_gradient():
    memory = CrossModalMemory(
        4, cluster_memory=dict(type='ClusterMemory', momentum=0.1),
        instance_memory=dict(type='InstanceMemory', momentum=0.1))
    feats = F.normalize(torch.randn(6, 4), dim=1)
    labels = torch.tensor([0, 1, 2, 0, 1, -1])
    memory.reset(feats, labels, torch.zeros(6, dtype=torch.long),
                 torch.zeros(0, 2, dtype=torch.long))
    bank = memory.cluster_memories[RGB].features
    saved = bank.clone()
    x = torch.randn(5, 4, requires_grad=True)
    q = F.normalize(x, dim=1)
    batch = (torch.zeros(5, dtype=torch.long), labels[:5], torch.arange(5))
    loss = ClusterContrastLoss()(q, labels[:5], memory.cluster_bank(RGB))
    memory.update_after_backward(q, *batch)
    assert torch.equal(bank, saved)  # not before the backward pass
    loss.backward()
    # written into the same tensor, once the loss's backward has used it
    assert memory.cluster_memories[RGB].features is bank
    assert not torch.equal(bank, saved)
    # the gradient is the one of the memory before the update
    x2 = x.detach().clone().requires_grad_()
    F.cross_entropy(F.normalize(x2, dim=1) @ saved.t() / 0.05,
                    labels[:5]).backward()
    torch.testing.assert_close(x.grad, x2.grad)
    # the same update as at once
    other = CrossModalMemory(
        4, cluster_memory=dict(type='ClusterMemory', momentum=0.1),
        instance_memory=dict(type='InstanceMemory', momentum=0.1))
    other.reset(feats, labels, torch.zeros(6, dtype=torch.long),
                torch.zeros(0, 2, dtype=torch.long))
    other.update(q.detach(), *batch)
    for key, value in other.state_dict().items():
        assert torch.equal(memory.state_dict()[key], value), key
