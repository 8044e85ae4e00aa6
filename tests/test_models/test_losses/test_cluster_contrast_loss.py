import math

import pytest
import torch

from mmvireid.models.losses import ClusterContrastLoss
from mmvireid.models.memories import ClusterBank, ClusterMemory
from mmvireid.registry import MODELS


def identity_bank(num):
    """A bank whose logits are the queries themselves (c = e_k, τ = 1)."""
    return ClusterBank(torch.eye(num), temperature=1.0)


def test_hand_worked_with_memory():
    # centroids (1, 0), (0, 1), (-1, 0); tau = 0.5
    memory = ClusterMemory(2, temperature=0.5)
    memory.reset(torch.tensor([[1., 0.], [0., 1.], [-1., 0.]]))
    q = torch.tensor([[1., 0.], [.6, .8], [0., -1.]])
    labels = torch.tensor([0, 1, -1])
    # query 0: logits 2, 0, -2; query 1: 1.2, 1.6, -1.2; query 2 skipped
    loss0 = -2 + math.log(math.exp(2) + 1 + math.exp(-2))
    loss1 = -1.6 + math.log(math.exp(1.2) + math.exp(1.6) + math.exp(-1.2))
    loss = MODELS.build(dict(type='ClusterContrastLoss'))(
        q, labels, ClusterBank(memory.features, memory.temperature))
    assert loss.item() == pytest.approx((loss0 + loss1) / 2, rel=1e-6)


def test_loss_weight_scales():
    queries = torch.tensor([[1., 2., 3.]])
    labels = torch.tensor([2])
    expected = -3 + math.log(math.exp(1) + math.exp(2) + math.exp(3))
    assert ClusterContrastLoss(loss_weight=0.5)(
        queries, labels,
        identity_bank(3)).item() == pytest.approx(0.5 * expected, rel=1e-6)


def test_no_valid_query_gives_zero_with_grad_path():
    queries = torch.randn(3, 4, requires_grad=True)
    loss = ClusterContrastLoss()(queries, torch.full((3, ), -1),
                                 identity_bank(4))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(queries.grad, torch.zeros(3, 4))
    # a memory without clusters (every label is then -1)
    empty = ClusterBank(torch.zeros(0, 4), temperature=0.05)
    assert ClusterContrastLoss()(queries, torch.full((3, ), -1),
                                 empty).item() == 0.0


def test_gradient_only_from_valid_queries():
    queries = torch.randn(3, 4, requires_grad=True)
    ClusterContrastLoss()(queries, torch.tensor([1, -1, 3]),
                          identity_bank(4)).backward()
    assert torch.equal(queries.grad[1], torch.zeros(4))
    # d/dlogits of mean CE over 2 queries: (softmax - onehot) / 2
    expected = (queries[0].softmax(0) - torch.eye(4)[1]) / 2
    assert torch.allclose(queries.grad[0], expected.detach(), atol=1e-6)


def test_bad_shapes_raise():
    # (the range of the labels is checked once per batch by
    # CrossModalMemory.check_batch, tests/test_models/test_memories)
    with pytest.raises(ValueError, match=r'ClusterContrastLoss: expected'):
        ClusterContrastLoss()(torch.zeros(2, 4), torch.tensor([0]),
                              identity_bank(4))
