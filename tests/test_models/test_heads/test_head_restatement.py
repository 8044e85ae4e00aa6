"""The head's losses and gradients for a fixed batch, against the equations
of docs/en/recipes.md §5 and §6 restated here query by query in float64."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

D, N_SOFT, TAU, TAU_W, ALPHA, CROSS = 6, 2, 0.05, 0.1, 0.5, 0.5
# 6 RGB images (clusters 0 = {0, 1, 2}, 1 = {3, 4}, 5 an outlier) and 5 IR
# images (cluster 0 = {6, 7}, 1 = {8}, 2 = {9, 10}); RGB 0 <-> IR 2 and
# RGB 1 <-> IR 0 are associated, IR 1 is unmatched.
MODALITIES = torch.tensor([RGB] * 6 + [IR] * 5)
LABELS = torch.tensor([0, 0, 0, 1, 1, -1, 0, 0, 1, 2, 2])
PAIRS = torch.tensor([[0, 2], [1, 0]])
# the batch: (sample_idx, modality, pseudo_label), two images twice
BATCH = [(0, RGB, 0), (3, RGB, 1), (5, RGB, -1), (1, RGB, 0), (6, IR, 0),
         (8, IR, 1), (9, IR, 2), (0, RGB, 0), (8, IR, 1)]


def build(**losses):
    cfg = dict(
        type='SPCLHead',
        in_channels=D,
        cluster_memory=dict(type='ClusterMemory', momentum=0.2,
                            temperature=TAU),
        instance_memory=dict(type='InstanceMemory', momentum=0.2),
        progressive=dict(ramp_epochs=4))
    cfg.update(losses)
    head = MODELS.build(cfg)
    head.init_weights()
    head.eval()  # BN-neck with running statistics: q = normalize(x)
    head.set_epoch(1)  # lambda = 1 / 4
    g = torch.Generator().manual_seed(3)
    feats = F.normalize(torch.randn(len(LABELS), D, generator=g), dim=1)
    head.memory.reset(feats, LABELS, MODALITIES, PAIRS)
    x = torch.randn(len(BATCH), D, generator=g, requires_grad=True)
    samples = [
        DataSample(metainfo=dict(sample_idx=i, pseudo_label=y))
        for i, _, y in BATCH
    ]
    modality = torch.tensor([m for _, m, _ in BATCH])
    return head, feats, x, samples, modality


def restated_sp(q, y, centroids, members, own=None, alpha=ALPHA):
    """L_sp of one query of cluster y (§6): the n members nearest the
    centroid other than the query's own slot ``own``, softmax(cos / tau_w)
    weights, alpha on the centroid. ``members[y]`` maps slot -> feature."""
    c = centroids[y]
    sims = sorted(((float(F.cosine_similarity(p, c, dim=0)), j)
                   for j, p in members[y].items() if j != own),
                  key=lambda s: -s[0])[:N_SOFT]
    total = sum(math.exp(s / TAU_W) for s, _ in sims)
    positive = alpha * torch.exp(q @ c / TAU) + (1 - alpha) * sum(
        math.exp(s / TAU_W) / total * torch.exp(q @ members[y][j] / TAU)
        for s, j in sims)
    negative = sum(
        torch.exp(q @ centroids[k] / TAU) for k in range(len(centroids))
        if k != y)
    return -torch.log(positive / (positive + negative))


def restated_cc(q, y, centroids, members=None, own=None):
    """Cluster contrast of one query (§5): −log softmax(q·Mᵀ/τ)[y]."""
    return -torch.log_softmax(q @ centroids.t() / TAU, 0)[y]


def memories(feats):
    """Centroids and members (slot -> feature) of each modality, float64."""
    feats = feats.double()
    out = {}
    for m in (RGB, IR):
        clusters = int(LABELS[MODALITIES == m].max()) + 1
        members = [{
            j: feats[j]
            for j in range(len(LABELS))
            if MODALITIES[j] == m and LABELS[j] == y
        } for y in range(clusters)]
        out[m] = (F.normalize(
            torch.stack([sum(f.values()) / len(f) for f in members]),
            dim=1), members)
    return out


def mean(terms):
    return sum(terms) / len(terms) if terms else torch.zeros((),
                                                             dtype=torch.
                                                             float64)


def restated_losses(x, feats, cluster_loss, exclude_self=True):
    """The head's losses, query by query, in float64."""
    q = F.normalize(x.double(), dim=1)
    banks = memories(feats)
    lam = 0.25
    other = {RGB: IR, IR: RGB}
    mapping = {RGB: {0: 2, 1: 0}, IR: {2: 0, 0: 1}}
    intra = cross = 0
    for m in (RGB, IR):
        rows = [(i, y, j if exclude_self else None)
                for i, (j, mm, y) in enumerate(BATCH) if mm == m and y >= 0]
        intra = intra + mean([cluster_loss(q[i], y, *banks[m], own)
                              for i, y, own in rows])
        cross = cross + mean([
            cluster_loss(q[i], mapping[m][y], *banks[other[m]], own)
            for i, y, own in rows if y in mapping[m]
        ])
    own = torch.tensor([i for i, _, _ in BATCH])
    instance = F.cross_entropy(q @ feats.double().t() / TAU, own)
    return dict(loss_instance=(1 - lam) * instance,
                loss_intra=lam * intra,
                loss_cross=lam * CROSS * cross)


SOFT = dict(type='SoftPrototypeContrastLoss', num_soft_prototypes=N_SOFT,
            alpha=ALPHA, temperature=TAU, weight_temperature=TAU_W)


@pytest.mark.parametrize('kind', [
    'soft_prototypes', 'soft_prototypes_with_self', 'cluster_contrast'
])
def test_losses_and_gradients_equal_the_restated_equations(kind):
    exclude_self = kind != 'soft_prototypes_with_self'
    if kind.startswith('soft_prototypes'):
        soft = dict(SOFT, exclude_self=exclude_self)
        cfg = dict(loss_intra=soft, loss_cross=dict(soft, loss_weight=CROSS))
        cluster_loss = restated_sp
    else:
        cfg = dict(
            loss_intra=dict(type='ClusterContrastLoss'),
            loss_cross=dict(type='ClusterContrastLoss', loss_weight=CROSS))
        cluster_loss = restated_cc

    cfg['loss_instance'] = dict(type='InstanceDiscriminationLoss',
                                temperature=TAU)
    head, feats, x, samples, modality = build(**cfg)
    losses = head.loss((x, ), samples, modality)
    x2 = x.detach().double().requires_grad_()
    expected = restated_losses(x2, feats, cluster_loss, exclude_self)
    for key, value in expected.items():
        torch.testing.assert_close(losses[key].double(), value, rtol=1e-5,
                                   atol=1e-6)
    sum(losses[key] for key in expected).backward()
    sum(expected.values()).backward()
    torch.testing.assert_close(x.grad.double(), x2.grad, rtol=1e-4,
                               atol=1e-6)
