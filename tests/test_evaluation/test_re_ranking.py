import importlib

import numpy as np
import pytest
import torch

from mmvireid.evaluation.functional import re_ranking

re_ranking_module = importlib.import_module(
    'mmvireid.evaluation.functional.re_ranking')


def dense_re_ranking(q_g, q_q, g_g, k1, k2, lambda_value):
    """Zhong et al.'s re-ranking restated densely, one row at a time."""
    num_q = len(q_g)
    dist = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float32)**2
    dist = (dist / dist.max(axis=0)).T
    num = len(dist)
    rank = np.argsort(dist, axis=1, kind='stable')

    def reciprocal(i, k):
        return {j for j in rank[i, :k + 1] if i in rank[j, :k + 1]}

    encoding = np.zeros((num, num), np.float32)
    for i in range(num):
        neighbours = reciprocal(i, k1)
        members = set(neighbours)
        for c in neighbours:
            candidates = reciprocal(c, int(np.around(k1 / 2)))
            if len(candidates & neighbours) > 2 / 3 * len(candidates):
                members |= candidates
        members = sorted(members)
        weights = np.exp(-dist[i, members])
        encoding[i, members] = weights / weights.sum()
    if k2 != 1:
        encoding = np.stack(
            [encoding[rank[i, :k2]].mean(axis=0) for i in range(num)])
    jaccard = np.empty((num_q, num), np.float32)
    for i in range(num_q):
        common = np.minimum(encoding[i][None, :], encoding).sum(axis=1)
        jaccard[i] = 1 - common / (2 - common)
    return (jaccard * (1 - lambda_value) +
            dist[:num_q] * lambda_value)[:, num_q:]


def distances(num_q, num_g, seed, levels=None):
    """Query x gallery, query x query, gallery x gallery ``1 - cos`` of
    random unit features; ``levels``: rounded to that many values (ties)."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((num_q + num_g, 6)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    dist = 1 - feats @ feats.T
    if levels:
        dist = np.round(dist * levels / 2) * 2 / levels
        np.fill_diagonal(dist, 0)
    return dist[:num_q, num_q:], dist[:num_q, :num_q], dist[num_q:, num_q:]


@pytest.mark.parametrize('num_q, num_g, k1, k2, lambda_value', [
    (30, 40, 20, 6, 0.3),  # the defaults
    (25, 35, 7, 3, 0.5),  # odd k1: round(3.5) = 4
    (40, 30, 5, 9, 0.3),  # k2 > k1 + 1
    (20, 20, 4, 1, 0.0),  # no query expansion, Jaccard only
    (10, 8, 20, 6, 1.0),  # N <= k1: every list holds all N images
    (3, 2, 1, 1, 0.3),
])
def test_matches_dense_restatement(num_q, num_g, k1, k2, lambda_value):
    for seed in range(2):
        q_g, q_q, g_g = distances(num_q, num_g, seed)
        result = re_ranking(q_g, q_q, g_g, k1, k2, lambda_value)
        assert result.dtype == np.float32 and result.shape == (num_q, num_g)
        np.testing.assert_allclose(
            result,
            dense_re_ranking(q_g, q_q, g_g, k1, k2, lambda_value),
            atol=1e-5,
            rtol=0)


def test_ties_are_broken_by_index(monkeypatch):
    # five distance levels: many ties across the k-th neighbour; chunks of
    # 7 rows in the kNN search and of 50 terms in the Jaccard sums
    monkeypatch.setattr(re_ranking_module, '_KNN_CHUNK_ROWS', 7)
    monkeypatch.setattr(re_ranking_module, '_TERM_BUDGET', 50)
    q_g, q_q, g_g = distances(20, 25, seed=3, levels=5)
    np.testing.assert_allclose(
        re_ranking(q_g, q_q, g_g, k1=6, k2=3),
        dense_re_ranking(q_g, q_q, g_g, 6, 3, 0.3),
        atol=1e-5,
        rtol=0)
    dist = torch.tensor([[0.0, 0.5, 0.5, 0.2, 0.5], [0.3, 0.3, 0.0, 0.3, 0.1]])
    assert re_ranking_module._stable_knn(dist, 3).tolist() == [[0, 3, 1],
                                                               [2, 4, 0]]


def test_tensors_in_numpy_out_and_the_defaults():
    q_g, q_q, g_g = distances(30, 40, seed=5)
    result = re_ranking(torch.from_numpy(q_g), torch.from_numpy(q_q),
                        torch.from_numpy(g_g))
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result,
                               dense_re_ranking(q_g, q_q, g_g, 20, 6, 0.3),
                               atol=1e-5,
                               rtol=0)


def test_identical_images_give_finite_distances():
    zeros = np.zeros
    result = re_ranking(zeros((3, 2)), zeros((3, 3)), zeros((2, 2)), k1=2)
    assert np.isfinite(result).all()


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(k1=0), ValueError, 'k1 must be a positive int'),
    (dict(k2=1.5), ValueError, 'k2 must be a positive int'),
    (dict(lambda_value=1.5), ValueError, r'lambda_value must be .* \[0, 1\]'),
    (dict(q_q_dist=np.zeros((3, 3))), ValueError,
     r'q_q_dist must have shape \(2, 2\)'),
    (dict(g_g_dist=np.zeros((3, 2))), ValueError,
     r'g_g_dist must have shape \(3, 3\)'),
    (dict(q_g_dist=np.zeros(3)), ValueError, r'non-empty \(Q, G\)'),
    (dict(q_g_dist=np.full((2, 3), np.nan)), ValueError, 'NaN'),
    (dict(q_g_dist=np.zeros((2, 3), dtype=int)), TypeError,
     'floating point'),
])
def test_bad_input_raises(kwargs, error, message):
    args = dict(q_g_dist=np.zeros((2, 3)), q_q_dist=np.zeros((2, 2)),
                g_g_dist=np.zeros((3, 3)))
    args.update(kwargs)
    with pytest.raises(error, match=message):
        re_ranking(**args)
