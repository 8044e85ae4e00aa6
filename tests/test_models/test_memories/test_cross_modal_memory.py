import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.memories import CrossModalMemory
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
    assert bank.members.tolist() == [-1, -1, -1, -1, 0, 1, 1, -1]
    prototypes, mask = bank.soft_prototypes(2)
    assert mask.tolist() == [[True, False], [True, True]]
    torch.testing.assert_close(prototypes[0, 0], feats[4])
    assert make_memory(instances=False).cluster_bank(RGB).instances is None


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
