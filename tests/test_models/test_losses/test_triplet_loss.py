import math

import pytest
import torch

from mmvireid.models.losses import TripletLoss

# 1-D features: a=0, b=1 (pid 0); c=3, d=5 (pid 1).
FEATS = torch.tensor([[0.], [1.], [3.], [5.]])
LABELS = torch.tensor([0, 0, 1, 1])


def test_batch_hard_by_hand():
    # anchor: furthest positive, closest negative, hinge(d_p - d_n + 0.3)
    # a: 1, 3 -> 0;  b: 1, 2 -> 0;  c: 2, 2 -> 0.3;  d: 2, 4 -> 0
    loss = TripletLoss(margin=0.3, mining='hard')(FEATS, LABELS)
    assert loss.item() == pytest.approx(0.3 / 4, abs=1e-5)


def test_weighted_regularisation_by_hand():
    dist = (FEATS - FEATS.t()).abs()
    expected = 0.0
    for i in range(4):
        pos = [j for j in range(4) if LABELS[j] == LABELS[i]]
        neg = [j for j in range(4) if LABELS[j] != LABELS[i]]
        dp = [dist[i, j].item() for j in pos]
        dn = [dist[i, j].item() for j in neg]
        fp = sum(d * math.exp(d) for d in dp) / sum(math.exp(d) for d in dp)
        cn = sum(d * math.exp(-d) for d in dn) / sum(math.exp(-d) for d in dn)
        expected += math.log(1 + math.exp(fp - cn)) / 4
    loss = TripletLoss(mining='weighted')(FEATS, LABELS)
    assert loss.item() == pytest.approx(expected, abs=1e-4)


def test_loss_weight_and_gradient():
    feats = FEATS.clone().requires_grad_(True)
    loss = TripletLoss(margin=0.3, loss_weight=2.0)(feats, LABELS)
    assert loss.item() == pytest.approx(0.15, abs=1e-5)
    loss.backward()
    # only anchor c violates the margin: weight 2 / 4 anchors times
    # d/dx [(d - c) - (c - b) + 0.3] = (0, +1, -2, +1)
    torch.testing.assert_close(feats.grad.flatten(),
                               torch.tensor([0., 0.5, -1., 0.5]))


def test_bad_mining():
    with pytest.raises(ValueError, match='mining'):
        TripletLoss(mining='semi')


@pytest.mark.parametrize('mining', ['hard', 'weighted'])
def test_float32_under_bf16_autocast(mining, close_features):
    labels = torch.arange(8).repeat_interleave(4).repeat(2)
    feats = close_features(64, 256, 0.99, seed=5)
    loss = TripletLoss(mining=mining)
    expected = loss(feats.double(), labels)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(feats, labels)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected.item(), rel=1e-3)
