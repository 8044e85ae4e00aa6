import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS


def make_head(**kwargs):
    cfg = dict(type='BNNeckHead', in_channels=8, num_classes=3)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_bnneck_bias_frozen_and_classifier_bias_free():
    head = make_head()
    assert not head.bnneck.bias.requires_grad
    assert head.classifier.bias is None
    assert torch.all(head.bnneck.weight == 1)


def test_loss_values_match_independent_computation():
    torch.manual_seed(0)
    head = make_head(loss_triplet=dict(type='TripletLoss', margin=0.3))
    feats = torch.randn(6, 8)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    losses = head.loss((feats, ), samples)
    bn = (feats - feats.mean(0)) / torch.sqrt(feats.var(0, unbiased=False) +
                                              1e-5)
    logits = bn @ head.classifier.weight.t()
    torch.testing.assert_close(losses['loss_id'], F.cross_entropy(logits,
                                                                  labels))
    dist = torch.cdist(feats, feats)
    same = labels[:, None] == labels[None]
    hard_pos = torch.where(same, dist, torch.zeros_like(dist)).max(1)[0]
    hard_neg = torch.where(same, torch.full_like(dist, 1e9), dist).min(1)[0]
    expected = F.relu(hard_pos - hard_neg + 0.3).mean()
    torch.testing.assert_close(losses['loss_triplet'], expected,
                               atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('kind,dim', [('bn', 8), ('pool', 8), ('concat', 16)])
def test_pre_logits_feature_kinds(kind, dim):
    head = make_head(test_feature=kind)
    head.eval()
    feats = torch.randn(4, 8)
    out = head.pre_logits((feats, ))
    assert out.shape == (4, dim)
    if kind == 'pool':
        torch.testing.assert_close(out, feats)


def test_predict_follows_mmpretrain_head_api():
    """predict(feats, data_samples=None) -> data samples with the feature
    and, as mmpretrain's ClsHead, pred_score / pred_label."""
    head = make_head(test_feature='bn')
    head.bnneck.running_mean.uniform_(-1, 1)
    head.bnneck.running_var.uniform_(0.5, 2)
    head.eval()
    feats = torch.randn(4, 8)
    with torch.no_grad():
        samples = head.predict((feats, ))
        given = [DataSample() for _ in range(4)]
        assert head.predict((feats, ), given) is given
    bn = (feats - head.bnneck.running_mean) / torch.sqrt(
        head.bnneck.running_var + 1e-5)
    scores = torch.softmax(bn @ head.classifier.weight.T, dim=1)
    assert len(samples) == 4
    for i, sample in enumerate(samples):
        torch.testing.assert_close(sample.feature, bn[i])
        torch.testing.assert_close(sample.pred_score, scores[i])
        assert sample.pred_label.tolist() == [int(scores[i].argmax())]
    # without a classifier: the feature only
    plain = make_head(loss_id=None).eval()
    sample = plain.predict((feats, ))[0]
    assert 'feature' in sample and 'pred_score' not in sample


def test_bad_config():
    with pytest.raises(ValueError, match='num_classes'):
        MODELS.build(dict(type='BNNeckHead', in_channels=8, num_classes=0))
    with pytest.raises(ValueError, match='test_feature'):
        make_head(test_feature='logits')
