"""The unsupervised losses and memories compute in float32 under bf16
autocast: within 1e-3 (relative) of the same computation in float64."""
import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.losses import (ClusterContrastLoss,
                                    InstanceDiscriminationLoss,
                                    SoftPrototypeContrastLoss)
from mmvireid.models.memories import (ClusterBank, ClusterMemory,
                                      CrossModalMemory, InstanceMemory)
from mmvireid.structures import IR, RGB

D = 256


def similar_rows(num, g, spread=0.3):
    """Unit rows around one direction (mean pairwise cosine about 0.9):
    the logits q·c/τ are large and close, where bf16 rounding shows."""
    base = torch.randn(D, generator=g, dtype=torch.float64)
    noise = torch.randn(num, D, generator=g, dtype=torch.float64)
    rows = base + spread * noise * base.norm() / D**.5
    return F.normalize(rows, dim=1)


def bf16(fn, *args):
    """``fn`` on float32 copies of ``args`` under CPU bf16 autocast."""
    args = [a.float() if torch.is_tensor(a) and a.is_floating_point() else a
            for a in args]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        return fn(*args)


def assert_close(value, reference):
    torch.testing.assert_close(value.double(), reference, rtol=1e-3,
                               atol=1e-6)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    instances = similar_rows(60, g)
    members = torch.randint(-1, 5, (60, ), generator=g)
    centroids = similar_rows(5, g)
    queries = similar_rows(12, g)
    labels = torch.randint(-1, 5, (12, ), generator=g)
    slots = torch.randint(0, 60, (12, ), generator=g)
    return instances, members, centroids, queries, labels, slots


@pytest.mark.parametrize('kind', ['cluster', 'soft', 'instance'])
def test_losses_and_gradients(data, kind):
    instances, members, centroids, queries, labels, slots = data

    def run(q, inst, cents):
        if kind == 'instance':
            memory = InstanceMemory(D)
            memory.features = inst
            return InstanceDiscriminationLoss(0.05, num_soft_positives=2)(
                q, slots, memory)
        bank = ClusterBank(cents, 0.05, inst, members, slots=slots)
        loss = ClusterContrastLoss() if kind == 'cluster' else \
            SoftPrototypeContrastLoss(num_soft_prototypes=3)
        return loss(q, labels, bank)

    q64 = queries.clone().requires_grad_()
    reference = run(q64, instances, centroids)
    reference.backward()
    q32 = queries.float().requires_grad_()
    value = bf16(run, q32, instances, centroids)
    assert value.dtype == torch.float32
    assert_close(value, reference)
    value.backward()
    torch.testing.assert_close(q32.grad.double(), q64.grad, rtol=1e-3,
                               atol=1e-5)


def test_memory_logits_and_updates(data):
    instances, members, centroids, queries, labels, slots = data
    for build, keys, bank in (
            (lambda: ClusterMemory(D, momentum=0.2), labels, centroids),
            (lambda: ClusterMemory(D, momentum=0.2, mode='hard'), labels,
             centroids),
            (lambda: InstanceMemory(D, momentum=0.2), slots, instances)):
        reference = build().double()
        reference.reset(bank)
        expected_logits = reference.logits(queries)
        reference.update(queries, keys)
        memory = build()
        memory.reset(bank.float())
        logits = bf16(memory.logits, queries)
        assert logits.dtype == torch.float32
        assert_close(logits, expected_logits)
        bf16(memory.update, queries, keys)
        assert memory.features.dtype == torch.float32
        assert_close(memory.features, reference.features)


def test_cross_modal_memory_update(data):
    instances, members, centroids, queries, labels, slots = data
    modalities = torch.arange(60) % 2
    members = torch.where(modalities == IR, members.clamp(max=2), members)

    def build(dtype):
        memory = CrossModalMemory(
            D, instance_memory=dict(type='InstanceMemory'))
        memory.reset(instances, members, modalities,
                     torch.tensor([[0, 1], [1, 0]]))
        return memory.to(dtype)

    modality = modalities[slots]
    batch = (modality, members[slots], slots)
    reference = build(torch.float64)
    reference.update(queries, *batch)
    memory = build(torch.float32)
    bf16(memory.update, queries, *batch)
    for m in (RGB, IR):
        assert_close(memory.cluster_memories[m].features,
                     reference.cluster_memories[m].features)
    assert_close(memory.instance_memory.features,
                 reference.instance_memory.features)
