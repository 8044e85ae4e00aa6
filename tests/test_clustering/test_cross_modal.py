import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score

from mmvireid.clustering import (associate_clusters, check_association,
                                 check_clustering_args, cluster_centroids,
                                 clustering_ari, cross_modal_pseudo_labels,
                                 instance_vote_association,
                                 joint_pseudo_labels,
                                 progressive_graph_matching, pseudo_labels)
from mmvireid.structures import IR, RGB


def two_modalities(seed=0, num_ids=5, per_id=12):
    """Identities as noisy copies of unit centres; IR images of an id are
    the RGB centre turned a little (a modality gap), interleaved."""
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(num_ids, 32, generator=g), dim=1)
    gap = F.normalize(centres + 0.3 * torch.randn(num_ids, 32, generator=g),
                      dim=1)
    pids = torch.arange(num_ids).repeat_interleave(per_id)
    modalities = torch.tensor([RGB, IR] * (num_ids * per_id // 2))
    base = torch.where(modalities[:, None] == RGB, centres[pids], gap[pids])
    noise = 0.05 * torch.randn(len(pids), 32, generator=g)
    return F.normalize(base + noise, dim=1), modalities.numpy(), pids.numpy()


def test_each_modality_clustered_alone_then_associated():
    features, modalities, pids = two_modalities()
    args = dict(k1=8, k2=3, eps=0.5, min_samples=3)
    result = cross_modal_pseudo_labels(features, modalities, pids=pids,
                                       **args)
    centroids = []
    # the composition of the independent steps, modality by modality
    for modality in (RGB, IR):
        members = np.flatnonzero(modalities == modality)
        expected, _ = pseudo_labels(features[members], **args)
        np.testing.assert_array_equal(result.pseudo_labels[members],
                                      expected)
        centroids.append(cluster_centroids(features[members], expected))
    pairs, costs = associate_clusters(*centroids)
    np.testing.assert_array_equal(result.pairs, pairs)
    stats = result.stats
    assert stats['num_clusters_rgb'] == stats['num_clusters_ir'] == 5
    assert stats['outliers_rgb'] == stats['outliers_ir'] == 0
    assert stats['images_rgb'] == stats['images_ir'] == 30
    assert stats['matched_pairs'] == 5
    assert stats['match_cost'] == pytest.approx(costs.mean())
    assert stats['time_cluster'] >= 0
    # well separated ids and a small gap: found and associated correctly
    assert stats['ari'] == stats['ari_rgb'] == stats['ari_ir'] == 1.0
    assert all(type(value) in (int, float) for value in stats.values())
    # without true ids: no ARI, the same labels
    plain = cross_modal_pseudo_labels(features, modalities, **args)
    assert 'ari' not in plain.stats
    np.testing.assert_array_equal(plain.pseudo_labels, result.pseudo_labels)


def test_a_modality_without_images_or_clusters():
    features, modalities, pids = two_modalities()
    rgb = modalities == RGB
    result = cross_modal_pseudo_labels(features[torch.from_numpy(rgb)],
                                       modalities[rgb],
                                       k1=8, k2=3, eps=0.5, min_samples=3)
    assert result.stats['images_ir'] == result.stats['num_clusters_ir'] == 0
    assert result.stats['matched_pairs'] == 0 and len(result.pairs) == 0
    assert 'match_cost' not in result.stats
    # min_samples above any cluster: all outliers
    result = cross_modal_pseudo_labels(features, modalities, pids=pids, k1=8,
                                       k2=3, eps=0.5, min_samples=40)
    assert (result.pseudo_labels == -1).all()
    assert result.stats['outliers_rgb'] == 30
    assert result.pairs.shape == (0, 2)


def test_ari_of_hand_made_labels():
    pids = np.array([0, 0, 1, 1, 2, 0, 0, 1, 1, 2])
    modalities = np.array([RGB] * 5 + [IR] * 5)
    # RGB: ids 0, 1 found as clusters 1, 0; id 2 an outlier. IR: ids 0, 1
    # found as clusters 0, 1 and associated correctly; id 2 an outlier.
    labels = np.array([1, 1, 0, 0, -1, 0, 0, 1, 1, -1])
    pairs = np.array([[1, 0], [0, 1]])
    scores = clustering_ari(pids, modalities, labels, pairs)
    assert scores['ari_rgb'] == scores['ari_ir'] == 1.0
    # jointly the two id-2 outliers are two singletons
    right = np.array([1, 1, 0, 0, 5, 1, 1, 0, 0, 6])
    assert scores['ari'] == pytest.approx(adjusted_rand_score(pids, right))
    labels[[4, 9]] = 2
    assert clustering_ari(pids, modalities, labels,
                          np.array([[1, 0], [0, 1], [2, 2]]))['ari'] == 1.0
    labels[[4, 9]] = -1
    # a wrong association spoils the joint index only
    scores = clustering_ari(pids, modalities, labels,
                            np.array([[0, 0], [1, 1]]))
    assert scores['ari_rgb'] == scores['ari_ir'] == 1.0
    wrong = np.array([0, 0, 1, 1, 5, 1, 1, 0, 0, 6])
    assert scores['ari'] == pytest.approx(adjusted_rand_score(pids, wrong))
    assert scores['ari'] < 0.5
    # an unmatched IR cluster gets its own joint label, not RGB's 0
    assert joint_pseudo_labels(labels, modalities, np.array(
        [[1, 0]])).tolist() == [1, 1, 0, 0, -1, 1, 1, 3, 3, -1]
    unmatched = np.array([1, 1, 0, 0, 5, 1, 1, 2, 2, 6])
    assert clustering_ari(pids, modalities, labels,
                          np.array([[1, 0]]))['ari'] == pytest.approx(
                              adjusted_rand_score(pids, unmatched))


@pytest.mark.parametrize('argument, value, message', [
    ('k1', 0, 'k1 must be an int >= 1'),
    ('k1', True, 'k1 must be an int >= 1'),
    ('k2', -1, 'k2 must be an int >= 1'),
    ('min_samples', 2.5, 'min_samples must be an int >= 1'),
    ('eps', 0, r'eps must be a number in \(0, 1\)'),
    ('eps', '0.5', r'eps must be a number in \(0, 1\)'),
    ('knn_backend', 'annoy', 'knn_backend must be one of'),
])
def test_arguments_are_checked_with_their_name(argument, value, message):
    args = dict(k1=30, k2=6, eps=0.6, min_samples=4, knn_backend='auto')
    args[argument] = value
    with pytest.raises(ValueError, match=f'Owner: {message}.*got'):
        check_clustering_args(**args, owner='Owner')
    with pytest.raises(ValueError, match=f'cross_modal_pseudo_labels: '
                       f'{message}'):
        cross_modal_pseudo_labels(torch.eye(4), np.zeros(4), **args)
    with pytest.raises(ValueError, match=r'modalities must have shape '
                       r'\(4,\)'):
        cross_modal_pseudo_labels(torch.eye(4), np.zeros(3))


@pytest.mark.parametrize('association', [
    'pgm', dict(type='pgm', symmetric=True), 'adca',
    dict(type='adca', threshold=0.3)
])
def test_the_association_is_chosen_by_name(association):
    # more RGB identities than IR ones: PGM gives the surplus a partner
    features, modalities, pids = two_modalities(num_ids=6)
    keep = torch.from_numpy(~((modalities == IR) & (pids == 5)))
    features, modalities, pids = (features[keep], modalities[keep.numpy()],
                                  pids[keep.numpy()])
    args = dict(k1=8, k2=3, eps=0.5, min_samples=3)
    result = cross_modal_pseudo_labels(features, modalities, pids=pids,
                                       association=association, **args)
    method, kwargs = check_association(association)
    rgb, ir = modalities == RGB, modalities == IR
    if method == 'pgm':
        expected, costs = progressive_graph_matching(
            cluster_centroids(features[torch.from_numpy(rgb)],
                              result.pseudo_labels[rgb]),
            cluster_centroids(features[torch.from_numpy(ir)],
                              result.pseudo_labels[ir]), **kwargs)
    else:
        expected, costs = instance_vote_association(
            features[torch.from_numpy(rgb)], result.pseudo_labels[rgb],
            features[torch.from_numpy(ir)], result.pseudo_labels[ir],
            **kwargs)
    np.testing.assert_array_equal(result.pairs, expected)
    stats = result.stats
    assert (stats['num_clusters_rgb'], stats['num_clusters_ir']) == (6, 5)
    assert stats['matched_pairs'] == len(expected)
    assert stats['match_cost'] == pytest.approx(costs.mean())
    if method == 'pgm':
        # all six RGB clusters have a partner, IR keeps its round-1 one
        assert stats['matched_rgb'] == 6 and stats['matched_ir'] == 5
    else:
        assert stats['matched_rgb'] == stats['matched_ir'] == len(expected)
    assert stats['ari_rgb'] == stats['ari_ir'] == 1.0
    with pytest.raises(ValueError, match='cross_modal_pseudo_labels: '
                       'association must be one of'):
        cross_modal_pseudo_labels(features, modalities, association='x')
