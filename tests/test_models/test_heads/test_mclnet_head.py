import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvireid.models.losses import (ClassWiseMMDLoss,
                                    HierarchicalKnowledgeSynergyLoss,
                                    SupConLoss)
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

DIM, NUM_CLASSES = 8, 3
# 3 pids x (2 RGB + 2 IR), modalities interleaved
LABELS = torch.tensor([0, 0, 1, 2, 1, 2, 0, 0, 1, 1, 2, 2])
MODALITY = torch.tensor([RGB, IR, RGB, IR, IR, RGB, RGB, IR, RGB, IR, RGB,
                         IR])
ALL_LOSSES = {
    'loss_id', 'accuracy', 'loss_mmd', 'loss_supcon_s1', 'loss_supcon_s2',
    'loss_supcon_s3', 'loss_supcon_s4', 'loss_hks', 'cos_ones_s1',
    'cos_ones_s2', 'cos_ones_s3', 'cos_ones_s4'
}


def make_head(**kwargs):
    cfg = dict(type='MCLNetHead', in_channels=DIM, num_classes=NUM_CLASSES)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def samples():
    return [DataSample().set_gt_label(int(y)) for y in LABELS]


def stage_feats(requires_grad=False):
    torch.manual_seed(0)
    return tuple(
        torch.randn(len(LABELS), DIM, requires_grad=requires_grad)
        for _ in range(4))


def test_default_losses_named_and_equal_to_weighted_modules():
    head = make_head()
    feats = stage_feats()
    losses = head.loss(feats, samples(), MODALITY)
    assert set(losses) == ALL_LOSSES

    # identity loss: CE on the batch-normalised f4, written out
    f4 = feats[3]
    bn = (f4 - f4.mean(0)) / torch.sqrt(f4.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(
        losses['loss_id'],
        F.cross_entropy(bn @ head.classifier.weight.t(), LABELS))
    # the other terms: the standalone modules (weight 1) times the weights
    # of docs/en/recipes.md §3
    torch.testing.assert_close(
        losses['loss_mmd'],
        0.25 * ClassWiseMMDLoss(kernel_mul=2.0, kernel_num=5)(f4, LABELS,
                                                              MODALITY))
    supcon = SupConLoss(temperature=0.1, scale_by_temperature=True)
    for s in range(4):
        torch.testing.assert_close(losses[f'loss_supcon_s{s + 1}'],
                                   5.0 * supcon(feats[s], LABELS))
    torch.testing.assert_close(
        losses['loss_hks'],
        5.0 * HierarchicalKnowledgeSynergyLoss(temperature=1.0)(feats))


def test_mmd_reads_the_modality_tensor():
    """The same features with another RGB/IR split of pid 0 (rows 0, 1, 6,
    7: RGB {0, 6} / IR {1, 7} becomes RGB {1, 6} / IR {0, 7}) give the MMD
    of that split."""
    head = make_head()
    feats = stage_feats()
    swapped = MODALITY.clone()
    swapped[0], swapped[1] = IR, RGB
    batch = samples()
    loss = head.loss(feats, batch, swapped)['loss_mmd']
    torch.testing.assert_close(
        loss, 0.25 * ClassWiseMMDLoss()(feats[3], LABELS, swapped))
    unswapped = head.loss(feats, samples(), MODALITY)['loss_mmd']
    assert not torch.allclose(loss, unswapped)


def test_every_loss_sends_gradient_to_its_features():
    head = make_head(loss_id=None)
    feats = stage_feats(requires_grad=True)
    losses = head.loss(feats, samples(), MODALITY)
    grads = torch.autograd.grad(losses['loss_supcon_s2'], feats,
                                allow_unused=True)
    assert grads[1] is not None and grads[1].abs().sum() > 0
    assert all(g is None for i, g in enumerate(grads) if i != 1)
    grads = torch.autograd.grad(losses['loss_mmd'], feats, allow_unused=True)
    assert grads[3] is not None and grads[3].abs().sum() > 0
    assert all(g is None for g in grads[:3])
    grads = torch.autograd.grad(losses['loss_hks'], feats)
    assert all(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize('disabled, removed', [
    ('loss_mmd', {'loss_mmd'}),
    ('loss_supcon', {f'loss_supcon_s{s}' for s in range(1, 5)}),
    ('loss_hks', {'loss_hks'}),
    ('loss_id', {'loss_id', 'accuracy'}),
])
def test_disabling_a_loss_removes_it(disabled, removed):
    head = make_head(**{disabled: None})
    losses = head.loss(stage_feats(), samples(), MODALITY)
    assert set(losses) == ALL_LOSSES - removed
    if disabled == 'loss_id':
        assert head.classifier is None


def test_optional_triplet_on_f4():
    head = make_head(
        loss_triplet=dict(type='TripletLoss', margin=0.3, loss_weight=2.0))
    feats = stage_feats()
    losses = head.loss(feats, samples(), MODALITY)
    assert set(losses) == ALL_LOSSES | {'loss_triplet'}
    f4 = feats[3]
    dist = torch.cdist(f4, f4)
    same = LABELS[:, None] == LABELS[None]
    hard_pos = torch.where(same, dist, torch.zeros_like(dist)).max(1)[0]
    hard_neg = torch.where(same, torch.full_like(dist, 1e9), dist).min(1)[0]
    torch.testing.assert_close(losses['loss_triplet'],
                               2.0 * F.relu(hard_pos - hard_neg + 0.3).mean(),
                               atol=1e-4, rtol=1e-4)


def test_loss_weights_are_configurable():
    head = make_head(
        loss_mmd=dict(type='ClassWiseMMDLoss', loss_weight=1.0),
        loss_supcon=dict(type='SupConLoss', loss_weight=1.0),
        loss_hks=dict(type='HierarchicalKnowledgeSynergyLoss',
                      loss_weight=1.0))
    default = make_head()
    feats = stage_feats()
    mine = head.loss(feats, samples(), MODALITY)
    ref = default.loss(feats, samples(), MODALITY)
    torch.testing.assert_close(mine['loss_mmd'] * 0.25, ref['loss_mmd'])
    torch.testing.assert_close(mine['loss_supcon_s3'] * 5,
                               ref['loss_supcon_s3'])
    torch.testing.assert_close(mine['loss_hks'] * 5, ref['loss_hks'])


def test_pre_logits_is_bnneck_of_f4():
    head = make_head()
    head.bnneck.running_mean.uniform_(-1, 1)
    head.bnneck.running_var.uniform_(0.5, 2)
    head.bnneck.weight.data.uniform_(0.5, 1.5)
    head.eval()
    feats = stage_feats()
    expected = (feats[3] - head.bnneck.running_mean) / torch.sqrt(
        head.bnneck.running_var + 1e-5) * head.bnneck.weight
    with torch.no_grad():
        torch.testing.assert_close(head.pre_logits(feats), expected)
        concat = make_head(test_feature='concat')
        concat.eval()
        out = concat.pre_logits(feats)
    assert out.shape == (len(LABELS), 2 * DIM)
    torch.testing.assert_close(out[:, DIM:], feats[3])


def test_hks_needs_several_stages():
    head = make_head()
    with pytest.raises(ValueError, match='at least 2 stages'):
        head.loss(stage_feats()[3:], samples(), MODALITY)
    # without HKS a single feature is enough
    head = make_head(loss_hks=None)
    losses = head.loss(stage_feats()[3:], samples(), MODALITY)
    assert {'loss_id', 'loss_mmd', 'loss_supcon_s1'} <= set(losses)


def test_collapse_diagnostic_by_hand():
    """cos_ones_s: batch mean of cos(f_s, 1); 1 for features flat over the
    channels, 1/sqrt(C) for a one-hot feature, 0 for a feature with zero
    sum."""
    head = make_head(loss_mmd=None, loss_supcon=None)
    num = len(LABELS)
    flat = torch.full((num, DIM), 3.)
    one_hot = torch.zeros(num, DIM)
    one_hot[:, 2] = 5.
    zero_sum = torch.tensor([1., -1.] * (DIM // 2)).repeat(num, 1)
    mixed = torch.cat([flat[:num // 2], one_hot[num // 2:]])
    losses = head.loss((flat, one_hot, zero_sum, mixed), samples(), MODALITY)
    assert losses['cos_ones_s1'].item() == pytest.approx(1.)
    assert losses['cos_ones_s2'].item() == pytest.approx(DIM**-0.5)
    assert losses['cos_ones_s3'].item() == pytest.approx(0., abs=1e-7)
    assert losses['cos_ones_s4'].item() == pytest.approx(
        (1 + DIM**-0.5) / 2)
    # an independent computation on random features
    feats = stage_feats()
    losses = head.loss(feats, samples(), MODALITY)
    ones = torch.ones(DIM)
    for s in range(4):
        expected = F.cosine_similarity(feats[s], ones[None], dim=1).mean()
        torch.testing.assert_close(losses[f'cos_ones_s{s + 1}'], expected)


def test_diagnostic_is_logged_but_not_summed():
    """MMEngine sums the entries whose name holds 'loss'; the diagnostics
    carry no gradient and stay out of the total."""
    model = MODELS.build(
        dict(type='VIReID',
             backbone=dict(type='TwoStreamResNet',
                           num_specific_stages=2,
                           backbone=dict(type='ResNet', depth=18,
                                         base_channels=4,
                                         strides=(1, 2, 2, 1),
                                         out_indices=(0, 1, 2, 3))),
             neck=dict(type='DeepSupervisionNeck',
                       in_channels=(4, 8, 16, 32), out_channels=32),
             head=dict(type='MCLNetHead', in_channels=32,
                       num_classes=NUM_CLASSES)))
    feats = tuple(f.repeat(1, 4).requires_grad_()
                  for f in stage_feats())
    losses = model.head.loss(feats, samples(), MODALITY)
    assert all(not losses[f'cos_ones_s{s}'].requires_grad
               for s in range(1, 5))
    total, log_vars = model.parse_losses(losses)
    assert set(log_vars) == set(losses) | {'loss'}
    assert total.item() == pytest.approx(
        sum(v.item() for k, v in losses.items() if k.startswith('loss_')),
        rel=1e-6)


def test_predict_skips_the_projections():
    """VIReID.predict of an MCLNet model: the projection heads are not
    called, and the features equal those of the model that runs them."""
    model = MODELS.build(
        dict(type='VIReID',
             backbone=dict(type='TwoStreamResNet',
                           num_specific_stages=2,
                           backbone=dict(type='ResNet', depth=18,
                                         base_channels=4,
                                         strides=(1, 2, 2, 1),
                                         out_indices=(0, 1, 2, 3))),
             neck=dict(type='DeepSupervisionNeck',
                       in_channels=(4, 8, 16, 32), out_channels=32),
             head=dict(type='MCLNetHead', in_channels=32,
                       num_classes=NUM_CLASSES)))
    model.init_weights()
    model.eval()
    calls = []
    for module in model.neck.projections.modules():
        if type(module).__name__ == 'SeparableConvProjection':
            module.register_forward_hook(lambda *args: calls.append(1))
    torch.manual_seed(3)
    images = torch.randn(4, 3, 64, 32)
    modality = torch.tensor([RGB, IR, IR, RGB])

    def features():
        batch = [DataSample() for _ in range(4)]
        with torch.no_grad():
            model.predict(images, batch, modality)
        return torch.stack([s.feature for s in batch])

    skipped = features()
    assert calls == []
    model.neck.eval_all_stages = True
    every = features()
    # the images and their flips in one forward: each of the 5 heads once
    assert len(calls) == 5
    assert torch.equal(skipped, every)
