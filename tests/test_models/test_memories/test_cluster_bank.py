import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.memories import ClusterBank, select_soft_prototypes


def test_select_soft_prototypes_hand_example():
    centroids = torch.tensor([[1., 0.], [0., 1.], [-1., 0.]])
    feats = torch.tensor([
        [.6, .8],  # 0: cluster 0, cos .6
        [0., 1.],  # 1: cluster 1, cos 1
        [1., 0.],  # 2: cluster 0, cos 1
        [.8, .6],  # 3: cluster 0, cos .8
        [.6, .8],  # 4: outlier
        [.8, -.6],  # 5: cluster 0, cos .8 (tie with 3, later)
        [.6, .8],  # 6: cluster 1, cos .8
    ])
    labels = torch.tensor([0, 1, 0, 0, -1, 0, 1])
    indices, mask = select_soft_prototypes(centroids, feats, labels, 3)
    assert indices.tolist() == [[2, 3, 5], [1, 6, -1], [-1, -1, -1]]
    assert mask.tolist() == [[True] * 3, [True, True, False], [False] * 3]
    bank = ClusterBank(centroids, 0.05, feats, labels)
    assert torch.equal(bank.prototype_indices(3), indices)
    # selected once per bank and n
    assert bank.prototype_indices(3) is bank.prototype_indices(3)
    # per query: rows 0, 1 of a batch of clusters 1, 0
    prototypes, mask2 = bank.soft_prototypes(3, torch.tensor([0, 1]),
                                             torch.tensor([1, 0]))
    assert mask2.tolist() == [[True, True, False], [True] * 3]
    assert torch.equal(prototypes[1], feats[[2, 3, 5]])
    assert torch.equal(prototypes[0, :2], feats[[1, 6]])
    assert not prototypes[0, 2].any()


def test_a_query_is_never_its_own_soft_prototype():
    """Hand-worked: cluster 0 = slots 2 (cos 1), 3 (cos .8), 5 (cos .8),
    0 (cos .6); cluster 1 = slots 1, 6."""
    centroids = torch.tensor([[1., 0.], [0., 1.]])
    feats = torch.tensor([[.6, .8], [0., 1.], [1., 0.], [.8, .6], [.6, .8],
                          [.8, -.6], [.6, .8]])
    labels = torch.tensor([0, 1, 0, 0, -1, 0, 1])
    # a batch of slots 3, 2, 1, 4 (4 is an outlier: no row of it asked)
    bank = ClusterBank(centroids, 0.05, feats, labels,
                       slots=torch.tensor([3, 2, 1, 4]))
    rows, clusters = torch.tensor([0, 1, 2]), torch.tensor([0, 0, 1])
    prototypes, mask = bank.soft_prototypes(2, rows, clusters)
    # slot 3: [2, 3] without itself -> [2, 5]; slot 2: [3, 5]; slot 1 has
    # one other member, slot 6
    assert torch.equal(prototypes[0], feats[[2, 5]])
    assert torch.equal(prototypes[1], feats[[3, 5]])
    assert torch.equal(prototypes[2, 0], feats[6])
    assert mask.tolist() == [[True, True], [True, True], [True, False]]
    # as before the option: the query's own slot among its prototypes
    prototypes, mask = bank.soft_prototypes(2, rows, clusters,
                                            exclude_self=False)
    assert torch.equal(prototypes[0], feats[[2, 3]])
    assert torch.equal(prototypes[1], feats[[2, 3]])
    assert torch.equal(prototypes[2, 0], feats[1])
    assert torch.equal(prototypes[2, 1], feats[6])
    # a bank without slots (queries outside the memory) excludes nothing
    plain = ClusterBank(centroids, 0.05, feats, labels)
    assert torch.equal(plain.soft_prototypes(2, rows, clusters)[0],
                       prototypes)


def test_select_soft_prototypes_matches_loop_reference():
    g = torch.Generator().manual_seed(2)
    centroids = F.normalize(torch.randn(6, 5, generator=g), dim=1)
    feats = F.normalize(torch.randn(60, 5, generator=g), dim=1)
    labels = torch.randint(-1, 6, (60, ), generator=g)
    indices, mask = select_soft_prototypes(centroids, feats, labels, 4)
    for y in range(6):
        members = [i for i in range(60) if labels[i] == y]
        members.sort(key=lambda i: -float(feats[i] @ centroids[y]))
        chosen = members[:4]
        assert indices[y, :len(chosen)].tolist() == chosen
        assert mask[y].tolist() == [j < len(chosen) for j in range(4)]


def test_logits_and_size():
    bank = ClusterBank(torch.tensor([[1., 0.], [0., 1.]]), temperature=0.5)
    assert bank.num_clusters == 2
    q = torch.tensor([[.6, .8]])
    assert torch.allclose(bank.logits(q), torch.tensor([[1.2, 1.6]]))


def test_bad_input_raises():
    with pytest.raises(ValueError, match='either members or prototype_'):
        ClusterBank(torch.eye(2), 0.05, instances=torch.eye(2))
    with pytest.raises(ValueError, match='give the instances too'):
        ClusterBank(torch.eye(2), 0.05, members=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='no.*instance memory|has none'):
        ClusterBank(torch.eye(2), 0.05).prototype_indices(2)
    with pytest.raises(ValueError, match=r'pseudo_labels must have shape'):
        select_soft_prototypes(torch.eye(2), torch.eye(2),
                               torch.tensor([0]), 2)
