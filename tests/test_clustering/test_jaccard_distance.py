import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mmvireid.clustering import jaccard_distance


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
    with pytest.raises(ValueError, match='k1|k2'):
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
