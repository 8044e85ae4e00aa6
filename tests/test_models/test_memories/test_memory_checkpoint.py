"""Memories in checkpoints and under autograd (resume, trap 8)."""
import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.memories import ClusterMemory, InstanceMemory


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


def test_update_after_the_loss_keeps_backward_valid():
    memory = ClusterMemory(4)
    memory.reset(torch.eye(4)[:3])
    x = torch.randn(5, 4, requires_grad=True)
    q = F.normalize(x, dim=1)
    loss = F.cross_entropy(memory.logits(q), torch.tensor([0, 1, 2, 0, 1]))
    saved = memory.features.clone()
    memory.update(q.detach(), torch.tensor([0, 1, 2, 0, 1]))
    assert not torch.equal(memory.features, saved)
    loss.backward()  # an in-place update would fail here
    # the gradient is the one of the memory before the update
    x2 = x.detach().clone().requires_grad_()
    F.cross_entropy(
        F.normalize(x2, dim=1) @ saved.t() / memory.temperature,
        torch.tensor([0, 1, 2, 0, 1])).backward()
    torch.testing.assert_close(x.grad, x2.grad)
