import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.memories import CrossModalMemory, select_soft_prototypes
from mmvireid.structures import IR, RGB

D, MU = 4, 0.1
# 4 RGB images (clusters 0 = {0, 1}, 1 = {2}, 2 = {3}) and 4 IR images
# (cluster 0 = {4}, 1 = {5, 6}, 7 an outlier); RGB 1 <-> IR 0 and
# RGB 2 <-> IR 1 are associated, RGB 0 is unmatched.
MODALITIES = torch.tensor([RGB] * 4 + [IR] * 4)
LABELS = torch.tensor([0, 0, 1, 2, 0, 1, 1, -1])
PAIRS = torch.tensor([[1, 0], [2, 1]])


def features(seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(8, D, generator=g), dim=1)


def make_memory(instances=True):
    return CrossModalMemory(
        D,
        cluster_memory=dict(type='ClusterMemory', momentum=MU),
        instance_memory=dict(type='InstanceMemory', momentum=MU)
        if instances else None)


def momentum_loop(bank, queries, keys):
    bank = bank.clone()
    for q, k in zip(queries, keys.tolist()):
        if k >= 0:
            bank[k] = F.normalize(MU * bank[k] + (1 - MU) * q, dim=0)
    return bank


def test_reset_builds_banks_association_and_labels():
    feats = features()
    memory = make_memory()
    memory.reset(feats, LABELS, MODALITIES, PAIRS)
    c_rgb = F.normalize(torch.stack([feats[0] + feats[1], feats[2],
                                     feats[3]]), dim=1)
    c_ir = F.normalize(torch.stack([feats[4], feats[5] + feats[6]]), dim=1)
    torch.testing.assert_close(memory.cluster_memories[RGB].features, c_rgb)
    torch.testing.assert_close(memory.cluster_memories[IR].features, c_ir)
    assert memory.num_clusters(RGB) == 3 and memory.num_clusters(IR) == 2
    assert memory.rgb_to_ir.tolist() == [-1, 0, 1]
    assert memory.ir_to_rgb.tolist() == [1, 2]
    assert torch.equal(memory.pseudo_labels, LABELS)
    assert torch.equal(memory.modalities, MODALITIES)
    torch.testing.assert_close(memory.instance_memory.features, feats)
    # numpy input (as the clustering hook gives) and no IR cluster
    memory.reset(feats.numpy(), torch.where(MODALITIES == IR, -1,
                                            LABELS).numpy(),
                 MODALITIES.numpy(), torch.zeros(0, 2, dtype=torch.long))
    assert memory.num_clusters(IR) == 0 and memory.num_clusters(RGB) == 3
    assert memory.rgb_to_ir.tolist() == [-1] * 3
    assert memory.ir_to_rgb.numel() == 0


def test_cluster_bank_members_are_the_modality_s_labels():
    feats = features()
    memory = make_memory()
    memory.reset(feats, LABELS, MODALITIES, PAIRS)
    bank = memory.cluster_bank(IR)
    assert bank.features is memory.cluster_memories[IR].features
    assert memory.members(IR).tolist() == [-1, -1, -1, -1, 0, 1, 1, -1]
    indices = bank.prototype_indices(2)
    assert indices[0].tolist() == [4, -1]
    assert sorted(indices[1].tolist()) == [5, 6]
    assert make_memory(instances=False).cluster_bank(RGB).instances is None


def random_clustering(seed, num=300, clusters=(12, 7)):
    """Features, labels and modalities of ``num`` random images."""
    g = torch.Generator().manual_seed(seed)
    modalities = (torch.rand(num, generator=g) < 0.4).long()  # IR = 1
    labels = torch.where(
        modalities == RGB,
        torch.randint(-1, clusters[RGB], (num, ), generator=g),
        torch.randint(-1, clusters[IR], (num, ), generator=g))
    feats = F.normalize(torch.randn(num, D, generator=g), dim=1)
    return feats, labels, modalities, torch.tensor([[0, 1], [3, 0]])


def random_batch(memory, g, size=24):
    """Fresh queries of random training images with their labels."""
    indices = torch.randint(len(memory.pseudo_labels), (size, ), generator=g)
    queries = F.normalize(torch.randn(size, D, generator=g), dim=1)
    return (queries, memory.modalities[indices],
            memory.pseudo_labels[indices], indices)


def from_scratch(memory, modality, num):
    return select_soft_prototypes(memory.cluster_memories[modality].features,
                                  memory.instance_memory.features,
                                  memory.members(modality), num)[0]


def test_kept_soft_prototypes_equal_a_selection_from_scratch():
    memory = make_memory()
    memory.reset(*random_clustering(0))
    g = torch.Generator().manual_seed(5)
    for step in range(24):
        for m in (RGB, IR):
            for num in (3, 5):
                assert torch.equal(
                    memory.cluster_bank(m).prototype_indices(num),
                    from_scratch(memory, m, num)), (step, m, num)
        queries, *batch = random_batch(memory, g)
        if step % 2:
            memory.update(queries, *batch)
        else:  # as the head does: applied by the backward pass
            queries.requires_grad_()
            memory.update_after_backward(queries, *batch)
            queries.sum().backward()
        if step == 8:  # a write the memory did not log (e.g. a broadcast)
            memory.instance_memory.features[:5] *= -1
        if step == 14:  # a new clustering of another size
            memory.reset(*random_clustering(1, num=200))
        if step == 19:  # a checkpoint of another memory
            other = make_memory()
            other.reset(*random_clustering(2, num=250))
            memory.load_state_dict(other.state_dict())


def test_a_step_reselects_only_the_clusters_it_moved(monkeypatch):
    from mmvireid.models.memories import soft_prototype_index
    memory = make_memory()
    memory.reset(*random_clustering(0))
    memory.cluster_bank(RGB).prototype_indices(3)
    ranked = []
    rank_members = soft_prototype_index.rank_members

    def counting(centroids, feats, members, labels, num):
        ranked.append(sorted(members.tolist()))
        return rank_members(centroids, feats, members, labels, num)

    monkeypatch.setattr(soft_prototype_index, 'rank_members', counting)
    g = torch.Generator().manual_seed(5)
    queries, modality, labels, indices = random_batch(memory, g, 6)
    memory.update(queries, modality, labels, indices)
    assert torch.equal(memory.cluster_bank(RGB).prototype_indices(3),
                       from_scratch(memory, RGB, 3))
    members = memory.members(RGB)
    moved = labels[(modality == RGB) & (labels >= 0)].unique()
    assert moved.numel() > 0
    assert ranked == [
        torch.nonzero(torch.isin(members, moved)).flatten().tolist()
    ]


def test_associated_labels_hand_worked():
    memory = make_memory()
    memory.reset(features(), LABELS, MODALITIES, PAIRS)
    # RGB 0 unmatched, 1 -> IR 0, 2 -> IR 1; -1 stays -1
    assert memory.associated_labels(torch.tensor([0, 1, 2, -1]),
                                    RGB).tolist() == [-1, 0, 1, -1]
    assert memory.associated_labels(torch.tensor([1, 0, -1]),
                                    IR).tolist() == [2, 1, -1]
    # no IR cluster: nothing is associated
    memory.reset(features(), torch.where(MODALITIES == IR, -1, LABELS),
                 MODALITIES, torch.zeros(0, 2, dtype=torch.long))
    assert memory.associated_labels(torch.tensor([-1, -1]),
                                    IR).tolist() == [-1, -1]


def test_update_moves_every_memory_in_batch_order():
    feats = features()
    memory = make_memory()
    memory.reset(feats, LABELS, MODALITIES, PAIRS)
    banks = [m.features.clone() for m in memory.cluster_memories]
    g = torch.Generator().manual_seed(1)
    queries = F.normalize(torch.randn(6, D, generator=g), dim=1)
    modality = torch.tensor([RGB, RGB, IR, RGB, IR, IR])
    labels = torch.tensor([0, 2, 1, 0, -1, 1])
    indices = torch.tensor([1, 3, 5, 0, 7, 6])
    memory.check_batch(labels, modality, indices)
    memory.update(queries, modality, labels, indices)
    for m in (RGB, IR):
        own = torch.where(modality == m, labels, -1)
        torch.testing.assert_close(memory.cluster_memories[m].features,
                                   momentum_loop(banks[m], queries, own))
    torch.testing.assert_close(memory.instance_memory.features,
                               momentum_loop(feats, queries, indices))


def test_check_batch_names_the_sample():
    memory = make_memory()
    memory.reset(features(), LABELS, MODALITIES, PAIRS)
    modality = torch.tensor([RGB, IR])
    memory.check_batch(torch.tensor([2, 1]), modality, torch.tensor([3, 5]))
    with pytest.raises(ValueError,
                       match=r'sample 5 \(ir\) has pseudo_label 2; expected '
                       r'-1 or a ir cluster in \[0, 2\).*sample_idx in '
                       r'\[0, 8\)'):
        memory.check_batch(torch.tensor([2, 2]), modality,
                           torch.tensor([3, 5]))
    with pytest.raises(ValueError, match=r'sample 0 \(rgb\) has '
                       r'pseudo_label -2'):
        memory.check_batch(torch.tensor([-2, 0]), modality,
                           torch.tensor([0, 5]))
    with pytest.raises(ValueError, match=r'sample 8 \(ir\)'):
        memory.check_batch(torch.tensor([0, 0]), modality,
                           torch.tensor([0, 8]))
    # without an instance memory the indices are not slots
    plain = make_memory(instances=False)
    plain.reset(features(), LABELS, MODALITIES, PAIRS)
    plain.check_batch(torch.tensor([0, 0]), modality, torch.tensor([0, 80]))
    with pytest.raises(ValueError, match='of shape'):
        memory.check_batch(torch.tensor([0]), modality, torch.tensor([0, 5]))


def test_reset_errors_name_the_input():
    memory = make_memory()
    with pytest.raises(ValueError, match=r'features \(N, 4\)'):
        memory.reset(torch.zeros(8, 3), LABELS, MODALITIES, PAIRS)
    with pytest.raises(ValueError, match='labels must be >= -1'):
        memory.reset(features(), torch.full((8, ), -2), MODALITIES, PAIRS)
    with pytest.raises(ValueError, match=r'pairs column 1 \(ir\) must hold '
                       r'clusters in \[0, 2\)'):
        memory.reset(features(), LABELS, MODALITIES, torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match='modalities must be'):
        memory.reset(features(), LABELS, torch.full((8, ), 2), PAIRS)
    with pytest.raises(ValueError, match='rank 0 clusters and must give'):
        memory.reset(features(), None, MODALITIES, None)
    with pytest.raises(TypeError, match='expected a ClusterMemory'):
        CrossModalMemory(D, cluster_memory=dict(type='InstanceMemory'))


def test_state_dict_round_trip_resizes_the_buffers():
    memory = make_memory()
    memory.reset(features(), LABELS, MODALITIES, PAIRS)
    fresh = make_memory()
    assert len(fresh.instance_memory) == 0 and fresh.pseudo_labels.numel() == 0
    fresh.load_state_dict(memory.state_dict(), strict=True)
    for key, value in memory.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    assert fresh.num_clusters(IR) == 2 and len(fresh.instance_memory) == 8


def test_ranks_take_rank_0_clustering_and_stay_identical(two_ranks):
    feats = features()
    memories = [make_memory(), make_memory()]
    g = torch.Generator().manual_seed(2)
    queries = F.normalize(torch.randn(5, D, generator=g), dim=1)
    modality = torch.tensor([RGB, IR, RGB, IR, RGB])
    labels = torch.tensor([1, 1, 0, 0, 2])
    indices = torch.tensor([2, 5, 0, 4, 3])
    # uneven batches: rank 0 trains on 3 samples, rank 1 on 2
    parts = [slice(0, 3), slice(3, 5)]

    def rank(r):

        def run():
            # rank 1 clusters nothing and holds other features: it must end
            # with rank 0's memories
            if r == 0:
                memories[r].reset(feats, LABELS, MODALITIES, PAIRS)
            else:
                memories[r].reset(F.normalize(feats + 1e-3, dim=1), None,
                                  MODALITIES, None)
            part = parts[r]
            memories[r].update(queries[part], modality[part], labels[part],
                               indices[part])

        return run

    two_ranks(rank(0), rank(1))
    reference = make_memory()
    reference.reset(feats, LABELS, MODALITIES, PAIRS)
    reference.update(queries, modality, labels, indices)
    for memory in memories:
        for key, value in reference.state_dict().items():
            assert torch.equal(memory.state_dict()[key], value), key
