import itertools

import numpy as np
import pytest
import torch

from mmvireid.clustering import associate_clusters


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
