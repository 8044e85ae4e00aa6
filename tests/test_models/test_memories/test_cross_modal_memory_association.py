"""CrossModalMemory with the associations of ADCA and PGM: many-to-one
pairs, ADCA's memory aggregation and the cross term's memory update."""
import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.memories import CrossModalMemory
from mmvireid.structures import IR, RGB

D, MU = 4, 0.2
# 4 RGB images in clusters 0, 1, 2, 2 and 3 IR images in clusters 0, 1, 1.
# PGM's association of 3 RGB with 2 IR clusters: round 1 pairs RGB 0 - IR 1
# and RGB 2 - IR 0; round 2 gives the surplus RGB 1 the partner IR 1.
MODALITIES = torch.tensor([RGB] * 4 + [IR] * 3)
LABELS = torch.tensor([0, 1, 2, 2, 0, 1, 1])
PAIRS = torch.tensor([[0, 1], [2, 0], [1, 1]])


def features(seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(7, D, generator=g), dim=1)


def make_memory(mode='mean', **kwargs):
    return CrossModalMemory(
        D,
        cluster_memory=dict(type='ClusterMemory', momentum=MU, mode=mode),
        **kwargs)


def test_many_to_one_pairs_take_the_first_partner():
    memory = make_memory()
    memory.reset(features(), LABELS, MODALITIES, PAIRS)
    assert memory.rgb_to_ir.tolist() == [1, 1, 0]
    assert memory.ir_to_rgb.tolist() == [2, 0]  # round 1, not RGB 1
    assert memory.associated_labels(torch.tensor([1, 0, -1]),
                                    RGB).tolist() == [1, 1, -1]
    assert memory.associated_labels(torch.tensor([1, 0]),
                                    IR).tolist() == [0, 2]


def test_adca_aggregation_blends_rgb_prototypes_with_their_ir_partner():
    feats = features()
    plain = make_memory()
    plain.reset(feats, LABELS, MODALITIES, PAIRS)
    rgb, ir = (m.features.clone() for m in plain.cluster_memories)
    memory = make_memory(aggregation=0.1)
    memory.reset(feats, LABELS, MODALITIES, PAIRS[:2])  # one-to-one
    # ADCA: m_rgb = 0.1 m_rgb + 0.9 m_ir of the partner, not renormalised;
    # the IR prototypes keep theirs
    expected = rgb.clone()
    expected[0] = 0.1 * rgb[0] + 0.9 * ir[1]
    expected[2] = 0.1 * rgb[2] + 0.9 * ir[0]
    torch.testing.assert_close(memory.cluster_memories[RGB].features,
                               expected)
    torch.testing.assert_close(memory.cluster_memories[IR].features, ir)
    assert memory.cluster_memories[RGB].features[0].norm() < 1 - 1e-3
    with pytest.raises(ValueError, match=r'aggregation must be None or in '
                       r'\[0, 1\], got 1.5'):
        make_memory(aggregation=1.5)


def momentum(bank, y, q):
    bank[y] = F.normalize(MU * bank[y] + (1 - MU) * q, dim=0)


def hard_update(bank, queries, labels):
    """PGM's CM_Hard, restated: each class once, with its query least
    similar to the prototype."""
    for y in dict.fromkeys(labels.tolist()):
        if y < 0:
            continue
        members = queries[labels == y]
        momentum(bank, y, members[int(torch.argmin(members @ bank[y]))])


def mean_update(bank, queries, labels):
    """PGM's CM, restated: every query in order."""
    for q, y in zip(queries, labels.tolist()):
        if y >= 0:
            momentum(bank, y, q)


@pytest.mark.parametrize('mode, restated', [('hard', hard_update),
                                            ('mean', mean_update)])
def test_cross_queries_update_the_other_memory_first(mode, restated):
    feats = features()
    memory = make_memory(mode)
    memory.reset(feats, LABELS, MODALITIES, PAIRS)
    banks = [m.features.clone() for m in memory.cluster_memories]
    g = torch.Generator().manual_seed(1)
    queries = F.normalize(torch.randn(7, D, generator=g), dim=1)
    modality = torch.tensor([RGB, IR, RGB, RGB, IR, IR, RGB])
    labels = torch.tensor([2, 1, 0, 2, 0, 1, 1])
    # an odd epoch of PGM: IR queries against the RGB memory at their
    # associated RGB clusters (IR 1 -> RGB 0, IR 0 -> RGB 2)
    cross = torch.tensor([-1, 0, -1, -1, 2, 0, -1])
    memory.update(queries, modality, labels, torch.arange(7), cross)
    # PGM's backward: the cross call's update, then the intra ones
    restated(banks[RGB], queries[modality == IR], cross[modality == IR])
    for m in (RGB, IR):
        restated(banks[m], queries[modality == m], labels[modality == m])
    for m in (RGB, IR):
        torch.testing.assert_close(memory.cluster_memories[m].features,
                                   banks[m])


def test_cross_labels_are_gathered_from_every_rank(two_ranks):
    feats = features()
    g = torch.Generator().manual_seed(2)
    queries = F.normalize(torch.randn(5, D, generator=g), dim=1)
    modality = torch.tensor([RGB, IR, RGB, IR, RGB])
    labels = torch.tensor([1, 1, 0, 0, 2])
    cross = torch.tensor([1, -1, 1, -1, 0])
    memories = [make_memory('hard'), make_memory('hard')]
    parts = [slice(0, 3), slice(3, 5)]

    def rank(r):

        def run():
            memories[r].reset(feats, LABELS if r == 0 else None, MODALITIES,
                              PAIRS if r == 0 else None)
            part = parts[r]
            memories[r].update(queries[part], modality[part], labels[part],
                               torch.arange(5)[part], cross[part])

        return run

    two_ranks(rank(0), rank(1))
    reference = make_memory('hard')
    reference.reset(feats, LABELS, MODALITIES, PAIRS)
    reference.update(queries, modality, labels, torch.arange(5), cross)
    for memory in memories:
        for key, value in reference.state_dict().items():
            assert torch.equal(memory.state_dict()[key], value), key
