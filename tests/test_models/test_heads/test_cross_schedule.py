"""PGM's cross term in MemoryContrastHead: direction alternating by epoch,
weight 0.25, hard memories, the cross call updating the other memory;
restated query by query from PGM's trainer (zesenwu23/USL-VI-ReID
clustercontrast/trainers.py L59-104, models/cm.py)."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

D, TAU, MU, WEIGHT = 6, 0.05, 0.2, 0.25
# 5 RGB images in clusters 0, 0, 1, 2, 2 and 4 IR images in clusters 0, 0,
# 1, 1. PGM's association (3 RGB >= 2 IR clusters): round 1 RGB 0 - IR 1,
# RGB 2 - IR 0; round 2 RGB 1 - IR 1.
MODALITIES = torch.tensor([RGB] * 5 + [IR] * 4)
LABELS = torch.tensor([0, 0, 1, 2, 2, 0, 0, 1, 1])
PAIRS = torch.tensor([[0, 1], [2, 0], [1, 1]])
R2I, I2R = {0: 1, 2: 0, 1: 1}, {1: 0, 0: 2}
# the batch: (sample_idx, modality, pseudo_label); PGM's batches hold no
# outlier, ours may (-1, skipped)
BATCH = [(0, RGB, 0), (2, RGB, 1), (3, RGB, 2), (1, RGB, 0), (4, RGB, -1),
         (5, IR, 0), (7, IR, 1), (8, IR, 1), (6, IR, 0)]


def build(**cfg):
    head = MODELS.build(
        dict(
            dict(
                type='MemoryContrastHead',
                in_channels=D,
                cluster_memory=dict(type='ClusterMemory', momentum=MU,
                                    temperature=TAU, mode='hard'),
                loss_intra=dict(type='ClusterContrastLoss'),
                loss_cross=dict(type='ClusterContrastLoss',
                                loss_weight=WEIGHT),
                loss_instance=None,
                progressive=None,
                cross_direction='alternate',
                cross_memory_update=True), **cfg))
    head.init_weights()
    head.eval()  # BN-neck with running statistics: q = normalize(x)
    g = torch.Generator().manual_seed(5)
    feats = F.normalize(torch.randn(len(LABELS), D, generator=g), dim=1)
    head.memory.reset(feats, LABELS, MODALITIES, PAIRS)
    x = torch.randn(len(BATCH), D, generator=g, requires_grad=True)
    samples = [
        DataSample(metainfo=dict(sample_idx=i, pseudo_label=y))
        for i, _, y in BATCH
    ]
    modality = torch.tensor([m for _, m, _ in BATCH])
    return head, x, samples, modality


def restated_step(x, banks, epoch):
    """PGM's step: loss_ir + loss_rgb + 0.25 * cross, the cross direction
    by epoch parity; then the memory updates in its backward order (the
    cross call's, then the RGB and IR ones), hard mode."""
    q = F.normalize(x.double(), dim=1)
    banks = [b.double().clone() for b in banks]
    rows = {
        m: [(i, y) for i, (_, mm, y) in enumerate(BATCH) if mm == m and y >= 0]
        for m in (RGB, IR)
    }

    def contrast(pairs, bank):
        logits = torch.stack([q[i] for i, _ in pairs]) @ bank.T / TAU
        return F.cross_entropy(logits, torch.tensor([y for _, y in pairs]))

    intra = contrast(rows[RGB], banks[RGB]) + contrast(rows[IR], banks[IR])
    if epoch % 2 == 1:  # IR queries against the RGB memory
        source, target, mapping = IR, RGB, I2R
    else:
        source, target, mapping = RGB, IR, R2I
    cross_rows = [(i, mapping[y]) for i, y in rows[source]]
    cross = contrast(cross_rows, banks[target])

    def hard(bank, pairs):
        by_class = {}
        for i, y in pairs:
            by_class.setdefault(y, []).append(q[i].detach())
        for y, members in by_class.items():
            members = torch.stack(members)
            hardest = members[int(torch.argmin(members @ bank[y]))]
            bank[y] = F.normalize(MU * bank[y] + (1 - MU) * hardest, dim=0)

    new = [b.clone() for b in banks]
    hard(new[target], cross_rows)
    hard(new[RGB], rows[RGB])
    hard(new[IR], rows[IR])
    return dict(loss_intra=intra, loss_cross=WEIGHT * cross), new


@pytest.mark.parametrize('epoch', [0, 1, 2, 7])
def test_pgm_cross_term_and_updates_equal_the_restated_trainer(epoch):
    head, x, samples, modality = build()
    head.set_epoch(epoch)
    banks = [m.features.clone() for m in head.memory.cluster_memories]
    losses = head.loss((x, ), samples, modality)
    x2 = x.detach().double().requires_grad_()
    expected, new_banks = restated_step(x2, banks, epoch)
    assert set(losses) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(losses[key].double(), value, rtol=1e-5,
                                   atol=1e-6)
    sum(losses.values()).backward()
    sum(expected.values()).backward()
    torch.testing.assert_close(x.grad.double(), x2.grad, rtol=1e-4,
                               atol=1e-6)
    for m in (RGB, IR):
        torch.testing.assert_close(
            head.memory.cluster_memories[m].features.double(), new_banks[m],
            rtol=1e-5, atol=1e-6)


def test_without_the_cross_update_only_own_queries_move_a_memory():
    head, x, samples, modality = build(cross_memory_update=False)
    head.set_epoch(1)
    banks = [m.features.clone() for m in head.memory.cluster_memories]
    reference, *_ = build(cross_direction='both', loss_cross=None)
    for m in (RGB, IR):
        reference.memory.cluster_memories[m].features = banks[m].clone()
    head.loss((x, ), samples, modality)
    reference.loss((x, ), samples, modality)
    for m in (RGB, IR):
        torch.testing.assert_close(
            head.memory.cluster_memories[m].features,
            reference.memory.cluster_memories[m].features)


def test_alternation_needs_the_epoch():
    head, x, samples, modality = build()
    with pytest.raises(RuntimeError, match="cross_direction='alternate' "
                       'follows the epoch.*ProgressiveScheduleHook'):
        head.loss((x, ), samples, modality)
    with pytest.raises(ValueError, match="cross_direction must be one of "
                       r"\('both', 'alternate'\), got 'rgb'"):
        build(cross_direction='rgb')


def test_adca_aggregation_is_handed_to_the_memory():
    head, *_ = build(memory_aggregation=0.1, loss_cross=None,
                     cross_direction='both')
    assert head.memory.aggregation == 0.1
    rgb = head.memory.cluster_memories[RGB].features
    assert (rgb.norm(dim=1) < 1 - 1e-4).all()  # every RGB cluster blended
