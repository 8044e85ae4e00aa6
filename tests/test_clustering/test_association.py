import itertools
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from mmvireid.clustering import (associate_clusters, association_mappings,
                                 check_association, cluster_centroids,
                                 instance_vote_association,
                                 progressive_graph_matching)
from mmvireid.structures import IR, RGB


def test_permuted_clusters_are_recovered():
    eye = np.eye(4)
    rgb = eye[:3] * np.array([[2.], [0.5], [3.]])  # norms do not matter
    ir = eye[[2, 0, 1]]
    pairs, costs = associate_clusters(rgb, ir)
    np.testing.assert_array_equal(pairs, [[0, 1], [1, 2], [2, 0]])
    np.testing.assert_allclose(costs, 0, atol=1e-12)
    assert pairs.dtype == np.int64


def test_unequal_counts_match_the_smaller_side():
    # rgb 2 sits between ir 0 (cos 0.8) and ir 1 (cos 0.6); the optimum
    # (total cost 0) pairs rgb 0 with ir 0, rgb 1 with ir 1, and leaves
    # rgb 2 unmatched.
    rgb = np.array([[1., 0.], [0., 1.], [0.8, 0.6]])
    ir = np.array([[1., 0.], [0., 1.]])
    pairs, costs = associate_clusters(rgb, ir)
    np.testing.assert_array_equal(pairs, [[0, 0], [1, 1]])
    np.testing.assert_allclose(costs, [0, 0], atol=1e-12)
    pairs, costs = associate_clusters(ir, rgb[[2, 1, 0]])
    np.testing.assert_array_equal(pairs, [[0, 2], [1, 1]])


@pytest.mark.parametrize('seed', range(5))
def test_minimum_total_cost_by_brute_force(seed):
    rng = np.random.default_rng(seed)
    rgb, ir = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    pairs, costs = associate_clusters(
        torch.from_numpy(rgb).float(),
        torch.from_numpy(ir).float())
    cos = (rgb / np.linalg.norm(rgb, axis=1, keepdims=True)) @ \
        (ir / np.linalg.norm(ir, axis=1, keepdims=True)).T
    best = min(
        sum(1 - cos[a, b] for a, b in zip(range(3), perm))
        for perm in itertools.permutations(range(5), 3))
    assert pairs.shape == (3, 2) and len(set(pairs[:, 1])) == 3
    np.testing.assert_allclose(costs.sum(), best, rtol=1e-5)
    np.testing.assert_allclose(
        costs, 1 - cos[pairs[:, 0], pairs[:, 1]], rtol=1e-5)


@pytest.mark.parametrize('rgb, ir', [(np.zeros((0, 4)), np.ones((3, 4))),
                                     (np.ones((2, 4)), torch.zeros(0, 4))])
def test_modality_without_clusters_gives_no_pairs(rgb, ir):
    pairs, costs = associate_clusters(rgb, ir)
    assert pairs.shape == (0, 2) and costs.shape == (0, )


def test_dimension_mismatch():
    with pytest.raises(ValueError, match='same dimension'):
        associate_clusters(np.ones((2, 3)), np.ones((2, 4)))


def test_zero_centroid():
    with pytest.raises(
            ValueError, match=r'ir_centroids has all-zero rows \[1\]'):
        associate_clusters(np.ones((2, 3)), np.array([[1., 0, 0], [0, 0, 0]]))


# --------------------------------------------------------------------------
# PGM's association, restated the way its released code computes it
# (zesenwu23/USL-VI-ReID train_sysu.py L816-847, train_regdb.py L682-739):
# exp(cos) similarity, cost 1 / similarity padded with zero columns to a
# square, a first Hungarian round, the rows matched to a padding column
# matched again against the real columns. Returns PGM's dicts r2i and i2r.
def pgm_reference(rgb, ir, symmetric):
    rgb = F.normalize(torch.as_tensor(rgb, dtype=torch.float64), dim=1)
    ir = F.normalize(torch.as_tensor(ir, dtype=torch.float64), dim=1)
    r2i, i2r = {}, {}
    if len(rgb) >= len(ir):
        rows, cols, row_map, col_map = rgb, ir, r2i, i2r
    elif symmetric:
        rows, cols, row_map, col_map = ir, rgb, i2r, r2i
    else:
        return r2i, i2r
    similarity = torch.mm(rows, cols.T).exp()
    cost = 1 / similarity
    pad = torch.zeros(cost.shape[0], cost.shape[0] - cost.shape[1],
                      dtype=cost.dtype)
    cost = torch.cat((cost, pad), 1)
    unmatched_row = []
    row_ind, col_ind = linear_sum_assignment(cost)
    for idx in range(len(row_ind)):
        if col_ind[idx] < similarity.shape[1]:
            row_map[row_ind[idx]] = col_ind[idx]
            col_map[col_ind[idx]] = row_ind[idx]
        else:
            unmatched_row.append(row_ind[idx])
    unmatched_cost = cost[unmatched_row][:, :similarity.shape[1]]
    again_row, again_col = linear_sum_assignment(unmatched_cost)
    for idx in range(len(again_row)):
        row_map[unmatched_row[again_row[idx]]] = again_col[idx]
    return r2i, i2r


def as_mapping(mapping_dict, size):
    mapping = np.full(size, -1)
    for key, value in mapping_dict.items():
        mapping[key] = value
    return mapping


@pytest.mark.parametrize('num_rgb, num_ir, symmetric', [
    (30, 17, False),   # C_rgb >= C_ir: every RGB cluster gets a partner
    (24, 24, False),   # equal counts: one round, one-to-one
    (17, 30, False),   # C_rgb < C_ir, SYSU-MM01 code: no association
    (17, 30, True),    # C_rgb < C_ir, RegDB code: IR matched to RGB
    (40, 12, False),   # C_rgb > 2 C_ir: 16 RGB clusters left unmatched
    (898, 444, False),  # SYSU-MM01's counts after a clustering
])
@pytest.mark.parametrize('seed', range(3))
def test_pgm_matches_its_released_algorithm(num_rgb, num_ir, symmetric,
                                            seed):
    rng = np.random.default_rng(seed)
    rgb = rng.normal(size=(num_rgb, 32)) * rng.uniform(
        0.5, 2, size=(num_rgb, 1))
    ir = rng.normal(size=(num_ir, 32))
    pairs, costs = progressive_graph_matching(
        torch.from_numpy(rgb).float(), ir, symmetric=symmetric)
    r2i, i2r = pgm_reference(
        torch.from_numpy(rgb).float().double(), ir, symmetric)
    rgb_to_ir, ir_to_rgb = association_mappings(pairs, num_rgb, num_ir)
    np.testing.assert_array_equal(rgb_to_ir.numpy(),
                                  as_mapping(r2i, num_rgb))
    np.testing.assert_array_equal(ir_to_rgb.numpy(), as_mapping(i2r, num_ir))
    cos = F.normalize(torch.from_numpy(rgb).float().double(), dim=1) @ \
        F.normalize(torch.from_numpy(ir), dim=1).T
    np.testing.assert_allclose(
        costs, 1 - cos[pairs[:, 0], pairs[:, 1]].numpy(), rtol=1e-6)
    larger = max(num_rgb, num_ir)
    smaller = min(num_rgb, num_ir)
    if num_rgb < num_ir and not symmetric:
        assert pairs.shape == (0, 2)
    else:
        # round 1 pairs every cluster of the smaller side once; with round
        # 2 the larger side's clusters get a partner, min(L, 2S) of them
        assert len(pairs) == min(larger, 2 * smaller)
        small_side = pairs[:smaller, IR if num_rgb >= num_ir else RGB]
        assert sorted(small_side.tolist()) == list(range(smaller))


def test_pgm_pairs_similar_clusters_and_gives_surplus_a_partner():
    # rgb 0, 1 are ir 0, 1 turned slightly; rgb 2 lies near ir 1
    ir = np.array([[1., 0, 0], [0, 1., 0]])
    rgb = np.array([[1., 0.1, 0], [0, 1., 0.1], [0.1, 1., 0.3]])
    pairs, _ = progressive_graph_matching(rgb, ir)
    np.testing.assert_array_equal(pairs, [[0, 0], [1, 1], [2, 1]])
    rgb_to_ir, ir_to_rgb = association_mappings(pairs, 3, 2)
    assert rgb_to_ir.tolist() == [0, 1, 1]
    assert ir_to_rgb.tolist() == [0, 1]  # the round-1 partner
    # one-to-one Hungarian leaves rgb 2 out
    assert associate_clusters(rgb, ir)[0].tolist() == [[0, 0], [1, 1]]
    # fewer RGB clusters: nothing, or the same the other way round
    assert progressive_graph_matching(ir, rgb)[0].shape == (0, 2)
    swapped, _ = progressive_graph_matching(ir, rgb, symmetric=True)
    np.testing.assert_array_equal(swapped, [[0, 0], [1, 1], [1, 2]])
    for empty in (np.zeros((0, 3)), torch.zeros(0, 3)):
        assert progressive_graph_matching(empty, ir)[0].shape == (0, 2)
        assert progressive_graph_matching(rgb, empty,
                                          symmetric=True)[0].shape == (0, 2)


# --------------------------------------------------------------------------
# ADCA's cluster pairs, restated the way its released code selects them
# (yangbincv/ADCA adca_sysu_train.py L814-849 and select_merge_data
# L358-366): all image pairs sorted by similarity, those >= 0.5 counted per
# (rgb label, ir label), label pairs sorted by count (stable), greedily kept
# when neither label is -1 nor used.
def adca_reference(rgb_feats, rgb_labels, ir_feats, ir_labels, threshold):
    dist_cm = np.matmul(rgb_feats, np.transpose(ir_feats))
    ind = np.unravel_index(np.argsort(dist_cm, axis=None)[::-1],
                           dist_cm.shape)
    idx1, idx2 = ind[0], ind[1]
    dist_list = dist_cm[idx1, idx2]
    length = np.sum(dist_list >= threshold)
    rgb2ir_label = [(i, j) for i, j in zip(rgb_labels[idx1[:length]],
                                           ir_labels[idx2[:length]])]
    counted = sorted(Counter(rgb2ir_label).items(), key=lambda x: x[1],
                     reverse=True)
    kept, in_rgb, in_ir = [], [], []
    for (rgb, ir), _ in counted:
        if rgb == -1 or ir == -1 or rgb in in_rgb or ir in in_ir:
            continue
        kept.append((rgb, ir))
        in_rgb.append(rgb)
        in_ir.append(ir)
    return np.array(kept).reshape(-1, 2)


def clustered_features(rng, centres, per_id, noise):
    """Features of identities around ``centres`` (norm <= 1, as ADCA
    clusters them) and labels that merge some identities and leave
    outliers."""
    num_ids, dim = centres.shape
    pids = np.repeat(np.arange(num_ids), per_id)
    feats = centres[pids] + noise * rng.normal(size=(len(pids), dim))
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    feats *= rng.uniform(0.9, 1.0, size=(len(pids), 1))
    labels = pids % (num_ids - 2)  # merge some ids into one cluster
    labels[rng.random(len(pids)) < 0.15] = -1
    _, labels[labels >= 0] = np.unique(labels[labels >= 0],
                                       return_inverse=True)
    return feats.astype(np.float32), labels


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('threshold', [0.5, 0.8])
def test_adca_matches_its_released_selection(seed, threshold):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, 16))
    rgb, rgb_labels = clustered_features(rng, centres, 10, noise=0.6)
    ir, ir_labels = clustered_features(
        rng, centres + 0.5 * rng.normal(size=centres.shape), 8, noise=0.6)
    expected = adca_reference(rgb, rgb_labels, ir, ir_labels, threshold)
    assert 0 < len(expected)
    for block_size in (7, 2048):
        pairs, costs = instance_vote_association(
            torch.from_numpy(rgb), rgb_labels, ir, torch.from_numpy(
                ir_labels), threshold=threshold, block_size=block_size)
        np.testing.assert_array_equal(pairs, expected)
    centroids = [
        cluster_centroids(feats, labels).double()
        for feats, labels in ((rgb, rgb_labels), (ir, ir_labels))
    ]
    cos = centroids[0] @ centroids[1].T
    np.testing.assert_allclose(
        costs, 1 - cos[pairs[:, 0], pairs[:, 1]].numpy(), rtol=1e-5)


def test_adca_votes_by_hand():
    # rgb cluster 0 = images 0, 1; cluster 1 = image 2; image 3 an outlier.
    # ir cluster 0 = image 0; cluster 1 = images 1, 2.
    rgb = np.array([[1., 0], [0.9, 0.1], [0, 1.], [0.7, 0.7]])
    ir = np.array([[1., 0], [0.6, 0.8], [0.1, 0.9]])
    pairs, _ = instance_vote_association(rgb, [0, 0, 1, -1], ir, [0, 1, 1],
                                         threshold=0.5)
    # votes: (0, 0) 2 (sims 1, 0.9), (0, 1) 2 (0.6, 0.62), (1, 1) 2
    # (0.8, 0.9): ties by the best similarity: (0, 0), then (1, 1); (0, 1)
    # is blocked; the outlier never votes
    np.testing.assert_array_equal(pairs, [[0, 0], [1, 1]])
    pairs, _ = instance_vote_association(rgb, [0, 0, 1, -1], ir, [0, 1, 1],
                                         threshold=0.95)
    np.testing.assert_array_equal(pairs, [[0, 0]])
    assert instance_vote_association(rgb, [-1] * 4, ir, [0, 1, 1])[
        0].shape == (0, 2)
    with pytest.raises(ValueError, match=r'ir_labels must have shape \(3,\)'):
        instance_vote_association(rgb, [0, 0, 1, -1], ir, [0, 1])


def test_mappings_follow_the_first_pair_of_each_cluster():
    pairs = np.array([[2, 0], [0, 1], [1, 0], [3, 1]])
    rgb_to_ir, ir_to_rgb = association_mappings(pairs, 5, 3)
    assert rgb_to_ir.tolist() == [1, 0, 0, 1, -1]
    assert ir_to_rgb.tolist() == [2, 0, -1]
    rgb_to_ir, ir_to_rgb = association_mappings(np.zeros((0, 2)), 2, 0)
    assert rgb_to_ir.tolist() == [-1, -1] and ir_to_rgb.numel() == 0


@pytest.mark.parametrize('association, message', [
    ('kmeans', 'association must be one of'),
    (dict(symmetric=True), 'association must be one of'),
    (3, 'association must be one of'),
    (dict(type='pgm', threshold=0.5), r"association 'pgm' takes "
     r"\['symmetric'\], got \['threshold'\]"),
    (dict(type='hungarian', symmetric=True),
     "association 'hungarian' takes no argument"),
])
def test_association_settings_are_checked(association, message):
    with pytest.raises(ValueError, match=f'Owner: {message}'):
        check_association(association, owner='Owner')
    assert check_association(dict(type='adca', threshold=0.6)) == (
        'adca', dict(threshold=0.6))
