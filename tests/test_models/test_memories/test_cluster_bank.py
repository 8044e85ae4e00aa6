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
    prototypes, mask2 = bank.soft_prototypes(3)
    assert torch.equal(mask2, mask)
    assert torch.equal(prototypes[0], feats[[2, 3, 5]])
    assert torch.equal(prototypes[1, :2], feats[[1, 6]])
    assert not prototypes[1, 2].any() and not prototypes[2].any()
    # selected once per bank and n
    assert bank.soft_prototypes(3)[0] is prototypes


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
    with pytest.raises(ValueError, match='both instances and members'):
        ClusterBank(torch.eye(2), 0.05, instances=torch.eye(2))
    with pytest.raises(ValueError, match='no.*instance memory|has none'):
        ClusterBank(torch.eye(2), 0.05).soft_prototypes(2)
    with pytest.raises(ValueError, match=r'pseudo_labels must have shape'):
        select_soft_prototypes(torch.eye(2), torch.eye(2),
                               torch.tensor([0]), 2)
