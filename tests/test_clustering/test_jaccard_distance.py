import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mmvireid.clustering import (exact_knn, jaccard_distance,
                                 k_reciprocal_encoding, k_reciprocal_sets,
                                 query_expansion, sparse_jaccard)
from mmvireid.testing import dense_jaccard

# The package exports a function of the same name as this module.
jaccard_module = sys.modules['mmvireid.clustering.jaccard_distance']
k_reciprocal_module = sys.modules['mmvireid.clustering.k_reciprocal']


def stored_mask(dist):
    mask = np.zeros(dist.shape, dtype=bool)
    mask[np.repeat(np.arange(dist.shape[0]), np.diff(dist.indptr)),
         dist.indices] = True
    return mask


def test_equals_dense_reference(reference_case):
    features, k1, k2, reference = reference_case
    dist = jaccard_distance(features, k1=k1, k2=k2)
    assert isinstance(dist, sp.csr_matrix) and dist.dtype == np.float32
    assert dist.has_sorted_indices
    stored = stored_mask(dist)
    # Every pair sharing a column is stored, with the dense value.
    np.testing.assert_allclose(
        dist.toarray()[stored], reference[stored], atol=1e-5, rtol=0)
    # Every pair not stored is at distance exactly 1 in the dense matrix.
    assert (reference[~stored] == 1).all()
    assert (reference[stored] < 1).mean() > 0.99
    # Diagonal stored as 0, matrix symmetric.
    assert stored.diagonal().all() and (dist.diagonal() == 0).all()
    assert (dist != dist.T).nnz == 0


def test_torch_and_faiss_knn_agree(reference_case):
    features, k1, k2, _ = reference_case
    a = jaccard_distance(
        features, k1=k1, k2=k2, knn_backend='torch', block_size=256)
    b = jaccard_distance(features, k1=k1, k2=k2, knn_backend='faiss')
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.data, b.data, atol=1e-5, rtol=0)


def test_duplicated_features_are_at_distance_zero():
    gen = torch.Generator().manual_seed(3)
    base = torch.nn.functional.normalize(
        torch.randn(60, 8, generator=gen), dim=1)
    # 0, 60, 61 are copies of row 0; 5 and 62 of row 5.
    features = torch.cat([base, base[[0, 0, 5]]])
    dist = jaccard_distance(features, k1=10, k2=3)
    stored = stored_mask(dist)
    for a, b in ((0, 60), (0, 61), (60, 61), (5, 62)):
        assert stored[a, b] and dist[a, b] == 0
    # Copies have the same distance to every other row.
    dense = dist.toarray()
    np.testing.assert_allclose(dense[0], dense[60], atol=1e-6)
    np.testing.assert_allclose(dense[5], dense[62], atol=1e-6)


def test_single_row():
    dist = jaccard_distance(torch.ones(1, 4))
    assert dist.shape == (1, 1) and dist.nnz == 1 and dist[0, 0] == 0


def test_identical_features_all_at_zero():
    dist = jaccard_distance(torch.ones(5, 3), k1=30, k2=6)
    assert dist.nnz == 25 and (dist.data == 0).all()


@pytest.mark.parametrize(
    'kwargs',
    [dict(k1=0), dict(k2=0),
     dict(k1=2.5), dict(k1=True)])
def test_bad_k(kwargs):
    with pytest.raises(ValueError, match='jaccard_distance: k1|k2'):
        jaccard_distance(torch.randn(10, 3), **kwargs)


def test_max_distance_keeps_exactly_the_near_pairs(reference_case):
    features, k1, k2, reference = reference_case
    dist = jaccard_distance(features, k1=k1, k2=k2, max_distance=0.6)
    stored = stored_mask(dist)
    np.testing.assert_array_equal(stored, (reference <= 0.6)
                                  | np.eye(len(reference), dtype=bool))
    np.testing.assert_allclose(
        dist.toarray()[stored], reference[stored], atol=1e-5, rtol=0)
    assert (dist != dist.T).nnz == 0 and dist.has_sorted_indices


@pytest.mark.parametrize('threads', [1, 3])
def test_small_chunks_and_threads_change_nothing(small_reference_case,
                                                 monkeypatch, threads):
    # A few rows per chunk (one where a row has more triplets), pieces of
    # 3 slots, a few encoding rows at a time, on 1 or 3 threads: the same
    # matrix as the default sizes, hence the dense reference's.
    features, k1, k2, reference = small_reference_case
    expected = jaccard_distance(features, k1=k1, k2=k2)
    monkeypatch.setattr(jaccard_module, 'REGION_BUDGET', 5 * len(features))
    monkeypatch.setattr(jaccard_module, 'TRIPLET_BUDGET', 2000)
    monkeypatch.setattr(jaccard_module, 'PIECE', 3)
    monkeypatch.setattr(k_reciprocal_module, 'MAP_BUDGET', 7 * len(features))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for max_distance in (None, 0.6):
            dist = jaccard_distance(
                features, k1=k1, k2=k2, max_distance=max_distance)
            if max_distance is None:
                np.testing.assert_array_equal(dist.indptr, expected.indptr)
                np.testing.assert_array_equal(dist.indices,
                                              expected.indices)
                np.testing.assert_allclose(
                    dist.data, expected.data, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(
            stored_mask(dist),
            (reference <= 0.6) | np.eye(len(reference), dtype=bool))
    finally:
        torch.set_num_threads(previous)


def test_hand_worked_distances():
    # Uniform weights over the hand-worked R*(i) of test_k_reciprocal.py:
    # R* = {0,1,2}, {0,1,3}, {0,2,3,4}, {1,2,3,4}, {2,3,4}, so
    # m_ij = |R*(i) ∩ R*(j)|·min(1/|R*(i)|, 1/|R*(j)|), d = 1 − m/(2 − m):
    # e.g. d(0, 1) = 1 − (2/3)/(4/3) = 1/2, d(2, 3) = 1 − (3/4)/(5/4) = 2/5.
    rank = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 4],
                         [3, 2, 4, 1], [4, 3, 2, 0]])
    expected = np.array(
        [[0, 1 / 2, 2 / 3, 2 / 3, 4 / 5], [1 / 2, 0, 2 / 3, 2 / 3, 4 / 5],
         [2 / 3, 2 / 3, 0, 2 / 5, 2 / 5], [2 / 3, 2 / 3, 2 / 5, 0, 2 / 5],
         [4 / 5, 4 / 5, 2 / 5, 2 / 5, 0]],
        dtype=np.float32)
    mask_k1, mask_half = k_reciprocal_sets(rank, k1=4)
    encoding = k_reciprocal_encoding(
        torch.zeros(5, 3), rank, torch.zeros(5, 4), mask_k1, mask_half)
    dist = sparse_jaccard(query_expansion(encoding, rank, 1))
    np.testing.assert_allclose(dist.toarray(), expected, atol=1e-6)
    # The dense reference works the same example.
    np.testing.assert_allclose(
        dense_jaccard(torch.zeros(5, 3), k1=4, k2=1, rank=rank.numpy()),
        expected,
        atol=1e-6)


def test_ties_and_duplicates_equal_dense_reference_on_same_lists():
    # Integer grid (exactly tied distances) plus copies of some points:
    # several kNN orders are valid, so the reference takes ours, which
    # test_knn.py checks against its rule (ties to the smaller index).
    grid = torch.stack(
        torch.meshgrid(torch.arange(9), torch.arange(9), indexing='ij'),
        -1).reshape(-1, 2).float()
    features = torch.cat([grid, grid[[0, 0, 40, 40, 40, 77]]]) / 8
    for k1, k2 in ((10, 3), (6, 1)):
        rank, _ = exact_knn(features, k1)
        reference = dense_jaccard(features, k1, k2, rank=rank.numpy())
        dist = jaccard_distance(features, k1=k1, k2=k2)
        stored = stored_mask(dist)
        np.testing.assert_allclose(
            dist.toarray()[stored], reference[stored], atol=1e-5, rtol=0)
        assert (reference[~stored] == 1).all()


def test_max_distance_one_or_more_keeps_every_pair(small_reference_case):
    features, k1, k2, _ = small_reference_case
    every = jaccard_distance(features, k1=k1, k2=k2)
    for max_distance in (1.0, 2.0):
        dist = jaccard_distance(
            features, k1=k1, k2=k2, max_distance=max_distance)
        np.testing.assert_array_equal(dist.indices, every.indices)
        np.testing.assert_array_equal(dist.data, every.data)
