import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner.checkpoint import load_state_dict
from mmpretrain.structures import DataSample

from mmvireid.models.heads import MemoryContrastHead
from mmvireid.models.losses import SoftPrototypeContrastLoss
from mmvireid.models.memories import ClusterBank
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

D, TAU, MU = 4, 0.05, 0.1
# training set: 4 RGB images (clusters 0 = {0, 1}, 1 = {2}, 2 = {3}) and
# 4 IR images (cluster 0 = {4}, 1 = {5, 6}, 7 an outlier); RGB 1 <-> IR 0
# and RGB 2 <-> IR 1 are associated, RGB 0 is unmatched.
MODALITIES = torch.tensor([RGB] * 4 + [IR] * 4)
LABELS = torch.tensor([0, 0, 1, 2, 0, 1, 1, -1])
PAIRS = torch.tensor([[1, 0], [2, 1]])
# batch: (sample_idx, modality, pseudo_label)
BATCH = [(0, RGB, 0), (2, RGB, 1), (3, RGB, 2), (4, IR, 0), (5, IR, 1),
         (7, IR, -1)]

SOFT = dict(
    type='SoftPrototypeContrastLoss',
    num_soft_prototypes=2,
    alpha=0.5,
    temperature=TAU,
    weight_temperature=0.1)


def make_head(**cfg):
    cfg = dict(
        dict(
            type='MemoryContrastHead',
            in_channels=D,
            cluster_memory=dict(
                type='ClusterMemory', momentum=MU, temperature=TAU),
            instance_memory=dict(type='InstanceMemory', momentum=MU),
            loss_intra=SOFT,
            loss_cross=dict(SOFT, loss_weight=0.5),
            loss_instance=dict(
                type='InstanceDiscriminationLoss', temperature=TAU),
            progressive=dict(ramp_epochs=4)), **cfg)
    head = MODELS.build(cfg)
    head.init_weights()
    # eval: the BN-neck uses its running statistics (mean 0, var 1), so the
    # query is simply normalize(x)
    head.eval()
    return head


def features():
    g = torch.Generator().manual_seed(0)
    return F.normalize(torch.randn(8, D, generator=g), dim=1)


def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(BATCH), D, generator=g, requires_grad=True)
    samples = [
        DataSample(metainfo=dict(sample_idx=idx, pseudo_label=label))
        for idx, _, label in BATCH
    ]
    modality = torch.tensor([modality for _, modality, _ in BATCH])
    return x, samples, modality


def ce(logits, labels):
    """Cross-entropy written out: mean of logsumexp - positive logit."""
    return (torch.logsumexp(logits, 1) -
            logits.gather(1, labels[:, None])[:, 0]).mean()


def momentum_loop(bank, queries, keys):
    bank = bank.clone()
    for q, k in zip(queries, keys.tolist()):
        if k >= 0:
            bank[k] = F.normalize(MU * bank[k] + (1 - MU) * q, dim=0)
    return bank


def test_losses_equal_the_standalone_losses_and_memories_update():
    feats = features()
    head = make_head()
    head.memory.reset(feats, LABELS, MODALITIES, PAIRS)
    c_rgb = F.normalize(torch.stack([feats[0] + feats[1], feats[2],
                                     feats[3]]), dim=1)
    c_ir = F.normalize(torch.stack([feats[4], feats[5] + feats[6]]), dim=1)
    memory = head.memory
    torch.testing.assert_close(memory.cluster_memories[RGB].features, c_rgb)
    torch.testing.assert_close(memory.cluster_memories[IR].features, c_ir)
    assert memory.rgb_to_ir.tolist() == [-1, 0, 1]
    assert memory.ir_to_rgb.tolist() == [1, 2]

    head.set_epoch(1)  # lambda = 1 / 4
    x, samples, modality = batch()
    losses = head.loss((x, ), samples, modality)
    q = F.normalize(x, dim=1).detach()
    idx = torch.tensor([b[0] for b in BATCH])
    labels = torch.tensor([b[2] for b in BATCH])

    # instance discrimination against every slot
    expected_ins = ce(q @ feats.t() / TAU, idx)
    # soft prototypes: every member of each cluster (n = 2 >= sizes), the
    # banks built by hand
    rgb_bank = ClusterBank(c_rgb, TAU, feats,
                           torch.tensor([0, 0, 1, 2, -1, -1, -1, -1]))
    ir_bank = ClusterBank(c_ir, TAU, feats,
                          torch.tensor([-1, -1, -1, -1, 0, 1, 1, -1]))
    sp = SoftPrototypeContrastLoss(
        num_soft_prototypes=2, alpha=0.5, temperature=TAU,
        weight_temperature=0.1)
    expected_intra = sp(q[:3], labels[:3], rgb_bank) + \
        sp(q[3:], labels[3:], ir_bank)
    # cross: RGB 0 unmatched, RGB 1 -> IR 0, RGB 2 -> IR 1; IR 0 -> RGB 1,
    # IR 1 -> RGB 2
    expected_cross = 0.5 * (
        sp(q[1:3], torch.tensor([0, 1]), ir_bank) +
        sp(q[3:5], torch.tensor([1, 2]), rgb_bank))

    assert set(losses) == {
        'loss_instance', 'loss_intra', 'loss_cross', 'lambda'
    }
    assert float(losses['lambda']) == 0.25
    torch.testing.assert_close(losses['loss_instance'], 0.75 * expected_ins)
    torch.testing.assert_close(losses['loss_intra'], 0.25 * expected_intra)
    torch.testing.assert_close(losses['loss_cross'], 0.25 * expected_cross)

    # memories moved after the step, with the batch, in batch order
    torch.testing.assert_close(
        head.memory.cluster_memories[RGB].features,
        momentum_loop(c_rgb, q[:3], labels[:3]))
    torch.testing.assert_close(
        head.memory.cluster_memories[IR].features,
        momentum_loop(c_ir, q[3:], labels[3:]))
    torch.testing.assert_close(head.memory.instance_memory.features,
                               momentum_loop(feats, q, idx))
    # ... after the losses saved the old memories for backward
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_cluster_contrast_baseline():
    feats = features()
    head = make_head(
        instance_memory=None,
        loss_intra=dict(type='ClusterContrastLoss'),
        loss_cross=dict(type='ClusterContrastLoss', loss_weight=0.5),
        loss_instance=None,
        progressive=None)
    assert head.memory.instance_memory is None
    head.memory.reset(feats, LABELS, MODALITIES, PAIRS)
    c_rgb = head.memory.cluster_memories[RGB].features.clone()
    c_ir = head.memory.cluster_memories[IR].features.clone()
    x, samples, modality = batch()
    losses = head.loss((x, ), samples, modality)
    q = F.normalize(x, dim=1).detach()
    assert set(losses) == {'loss_intra', 'loss_cross'}
    expected_intra = ce(q[:3] @ c_rgb.t() / TAU, torch.tensor([0, 1, 2])) + \
        ce(q[3:5] @ c_ir.t() / TAU, torch.tensor([0, 1]))
    expected_cross = 0.5 * (
        ce(q[1:3] @ c_ir.t() / TAU, torch.tensor([0, 1])) +
        ce(q[3:5] @ c_rgb.t() / TAU, torch.tensor([1, 2])))
    torch.testing.assert_close(losses['loss_intra'], expected_intra)
    torch.testing.assert_close(losses['loss_cross'], expected_cross)


def test_a_modality_without_clusters_trains_on_what_it_has():
    feats = features()
    head = make_head()
    head.set_epoch(10)  # lambda = 1: only cluster losses
    ir_outliers = torch.where(MODALITIES == IR, -1, LABELS)
    memory = head.memory
    memory.reset(feats, ir_outliers, MODALITIES,
                 torch.zeros(0, 2, dtype=torch.long))
    assert memory.num_clusters(RGB) == 3 and memory.num_clusters(IR) == 0
    assert memory.rgb_to_ir.tolist() == [-1] * 3
    assert len(memory.ir_to_rgb) == 0
    x, samples, modality = batch()
    for sample in samples[3:]:
        sample.set_metainfo(dict(pseudo_label=-1))
    losses = head.loss((x, ), samples, modality)
    assert losses['loss_cross'].item() == 0  # nothing is associated
    assert losses['loss_intra'].item() > 0  # the RGB term
    assert all(torch.isfinite(v) for v in losses.values())
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert torch.isfinite(x.grad).all()
    assert memory.cluster_memories[IR].features.shape == (0, D)

    # no cluster at all: the instance loss alone trains
    memory.reset(feats, torch.full((8, ), -1), MODALITIES,
                 torch.zeros(0, 2, dtype=torch.long))
    head.set_epoch(2)
    for sample in samples:
        sample.set_metainfo(dict(pseudo_label=-1))
    losses = head.loss((x, ), samples, modality)
    assert losses['loss_intra'].item() == losses['loss_cross'].item() == 0
    assert losses['loss_instance'].item() > 0


def test_state_dict_round_trip_resizes_the_buffers():
    head = make_head()
    head.memory.reset(features(), LABELS, MODALITIES, PAIRS)
    fresh = make_head()
    assert len(fresh.memory.instance_memory) == 0
    fresh.load_state_dict(head.state_dict(), strict=True)
    for key, value in head.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    assert fresh.memory.num_clusters(IR) == 2
    assert len(fresh.memory.instance_memory) == 8


def test_progressive_weight_follows_the_epoch():
    head = make_head(progressive=dict(ramp_epochs=4, mode='cosine'))
    assert head.progress_weight == 0
    head.set_epoch(2)
    assert head.progress_weight == pytest.approx(0.5)
    head.set_epoch(1)
    assert head.progress_weight == pytest.approx((1 - math.cos(math.pi / 4))
                                                 / 2)
    assert make_head(progressive=None).progress_weight is None


def test_pre_logits_is_the_bnneck_feature():
    head = make_head()
    x = torch.randn(3, D)
    torch.testing.assert_close(head.pre_logits((x, )),
                               x / math.sqrt(1 + 1e-5))
    pooled = make_head(test_feature='pool').pre_logits((x, ))
    torch.testing.assert_close(pooled, x)


def test_errors():
    with pytest.raises(ValueError, match='progressive.*needs both'):
        make_head(loss_instance=None)
    with pytest.raises(ValueError, match='every loss is None'):
        make_head(
            loss_intra=None,
            loss_cross=None,
            loss_instance=None,
            progressive=None)
    with pytest.raises(TypeError, match='loss_intra must be a loss against '
                       'the cluster memory'):
        make_head(loss_intra=dict(type='TripletLoss'))
    with pytest.raises(TypeError, match='loss_instance must be a loss '
                       'against the instance memory'):
        make_head(loss_instance=dict(type='ClusterContrastLoss'))
    head = make_head()
    head.memory.reset(features(), LABELS, MODALITIES, PAIRS)
    x, samples, modality = batch()
    del samples[0].pseudo_label
    with pytest.raises(KeyError, match="need 'pseudo_label'.*ClusteringHook"):
        head.loss((x, ), samples, modality)
    with pytest.raises(ValueError, match=r'features \(N, 4\)'):
        head.memory.reset(
            torch.zeros(8, 3), LABELS, MODALITIES, PAIRS)
    # labels of another clustering: checked once, before any loss
    x, samples, modality = batch()
    samples[1].set_metainfo(dict(pseudo_label=3))
    with pytest.raises(ValueError, match=r'sample 2 \(rgb\) has '
                       r'pseudo_label 3; expected -1 or a rgb cluster in '
                       r'\[0, 3\)'):
        head.loss((x, ), samples, modality)


def test_spcl_head_is_the_registered_former_name():
    assert MODELS.get('SPCLHead') is MemoryContrastHead
    assert type(make_head(type='SPCLHead')) is MemoryContrastHead


def test_spcl_head_checkpoints_load():
    """A state dict of the former SPCLHead: its memories sat directly under
    the head (the keys written out as it saved them)."""
    head = make_head()
    head.memory.reset(features(), LABELS, MODALITIES, PAIRS)
    new = head.state_dict()
    old = {
        'bnneck.weight': new['bnneck.weight'],
        'bnneck.bias': new['bnneck.bias'],
        'bnneck.running_mean': new['bnneck.running_mean'],
        'bnneck.running_var': new['bnneck.running_var'],
        'bnneck.num_batches_tracked': new['bnneck.num_batches_tracked'],
        'cluster_memories.0.features':
        new['memory.cluster_memories.0.features'],
        'cluster_memories.1.features':
        new['memory.cluster_memories.1.features'],
        'instance_memory.features': new['memory.instance_memory.features'],
        'pseudo_labels': LABELS,
        'modalities': MODALITIES,
        'rgb_to_ir': torch.tensor([-1, 0, 1]),
        'ir_to_rgb': torch.tensor([1, 2]),
    }
    assert set(old) == {
        key.replace('memory.', '', 1) if key.startswith('memory.') else key
        for key in new
    }
    fresh = make_head()
    fresh.load_state_dict(old, strict=True)
    for key, value in new.items():
        assert torch.equal(fresh.state_dict()[key], value), key
    # and through MMEngine's loader, nested in a model, as a checkpoint is
    model = torch.nn.ModuleDict(dict(head=make_head()))
    load_state_dict(model, {f'head.{k}': v for k, v in old.items()},
                    strict=True)
    assert model['head'].memory.num_clusters(RGB) == 3
