import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import DBSCAN

from mmvireid.clustering import cluster_dbscan, jaccard_distance


def test_labels_identical_to_dense_reference(reference_case):
    features, k1, k2, reference = reference_case
    dist = jaccard_distance(features, k1=k1, k2=k2)
    dense = np.ones(dist.shape, dtype=np.float32)
    dense[np.repeat(np.arange(dist.shape[0]), np.diff(dist.indptr)),
          dist.indices] = dist.data
    for eps in (0.3, 0.45, 0.6, 0.7):
        # Same eps-neighbourhoods as the dense matrix (missing pairs are
        # at 1), hence the same DBSCAN run.
        np.testing.assert_array_equal(dense <= eps, reference <= eps)
        expected = DBSCAN(
            eps=eps, min_samples=4,
            metric='precomputed').fit(reference).labels_
        labels = cluster_dbscan(dist, eps)
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(labels, expected)


def test_explicit_zero_distances_are_neighbours():
    # Rows 0-3 at explicit distance 0 from each other, no diagonal stored;
    # rows 4, 5 only near each other. min_samples = 4: only 0-3 cluster.
    rows, cols = np.nonzero(~np.eye(4, dtype=bool))
    data = np.zeros(len(rows), dtype=np.float32)
    rows = np.r_[rows, 4, 5]
    cols = np.r_[cols, 5, 4]
    data = np.r_[data, 0.1, 0.1].astype(np.float32)
    dist = sp.csr_matrix((data, (rows, cols)), shape=(6, 6))
    assert dist.nnz == 14
    labels = cluster_dbscan(dist, eps=0.5, min_samples=4)
    np.testing.assert_array_equal(labels, [0, 0, 0, 0, -1, -1])


def test_border_point_and_eps_inclusive():
    # Core 0-3 (pairwise 0.2); 4 at exactly eps = 0.25 from 3 only: border.
    dense = np.ones((5, 5), dtype=np.float32)
    dense[:4, :4] = 0.2
    dense[3, 4] = dense[4, 3] = 0.25
    np.fill_diagonal(dense, 0)
    dist = sp.csr_matrix(np.where(dense < 1, dense, 0))
    dist.setdiag(0)  # explicit zeros on the diagonal
    np.testing.assert_array_equal(
        cluster_dbscan(dist, eps=0.25, min_samples=4), [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(
        cluster_dbscan(dist, eps=0.24, min_samples=4), [0, 0, 0, 0, -1])


def test_all_outliers():
    dist = sp.identity(7, dtype=np.float32, format='csr') * 0
    dist.setdiag(0)
    np.testing.assert_array_equal(
        cluster_dbscan(dist, eps=0.6), np.full(7, -1))


def test_unsorted_rows_and_entries_above_eps():
    # Same graph as a dense run, rows given in a scrambled order.
    rng = np.random.default_rng(0)
    dense = rng.uniform(0, 1, (30, 30)).astype(np.float32)
    dense = np.minimum(dense, dense.T)
    np.fill_diagonal(dense, 0)
    rows, cols = np.nonzero(np.ones_like(dense))
    order = rng.permutation(len(rows))
    dist = sp.csr_matrix(
        (dense[rows, cols][order], (rows[order], cols[order])), shape=(30, 30))
    dist.has_sorted_indices = False
    expected = DBSCAN(
        eps=0.05, min_samples=3, metric='precomputed').fit(dense).labels_
    np.testing.assert_array_equal(
        cluster_dbscan(dist, eps=0.05, min_samples=3), expected)
    assert expected.max() >= 1 and (expected == -1).any()


@pytest.mark.parametrize('eps', [0, 1, 1.5, -0.1])
def test_eps_outside_open_unit_interval(eps):
    with pytest.raises(ValueError, match='eps must be in'):
        cluster_dbscan(sp.identity(3, format='csr'), eps)


@pytest.mark.parametrize('distances',
                         [np.zeros(
                             (3, 3)), sp.csr_matrix((3, 4))])
def test_bad_matrix(distances):
    with pytest.raises(ValueError, match='square scipy sparse'):
        cluster_dbscan(distances, 0.5)


def test_bad_min_samples():
    with pytest.raises(ValueError, match='min_samples'):
        cluster_dbscan(sp.identity(3, format='csr'), 0.5, min_samples=0)
