import numpy as np
import pytest
import torch
from sklearn.cluster import DBSCAN

from mmvireid.clustering import pseudo_labels

PHASES = ['knn', 'reciprocal', 'encoding', 'jaccard', 'dbscan']


def test_labels_match_dense_reference_and_timings(reference_case):
    features, k1, k2, reference = reference_case
    labels, timings = pseudo_labels(
        features, k1=k1, k2=k2, eps=0.6, min_samples=4)
    expected = DBSCAN(
        eps=0.6, min_samples=4, metric='precomputed').fit(reference).labels_
    np.testing.assert_array_equal(labels, expected)
    assert list(timings) == PHASES + ['total']
    assert all(timings[p] >= 0 for p in PHASES)
    assert timings['total'] == pytest.approx(sum(timings[p] for p in PHASES))


def test_well_separated_identities_are_recovered():
    gen = torch.Generator().manual_seed(0)
    centres = torch.nn.functional.normalize(
        torch.randn(6, 32, generator=gen), dim=1)
    pids = torch.arange(6).repeat_interleave(20)
    features = torch.nn.functional.normalize(
        centres[pids] + 0.05 * torch.randn(120, 32, generator=gen), dim=1)
    labels, _ = pseudo_labels(features, k1=10, k2=3, eps=0.6)
    # One cluster per identity, no outlier (labels are a relabelling).
    assert (labels >= 0).all() and labels.max() == 5
    assert all(len(set(labels[pids.numpy() == p])) == 1 for p in range(6))


def test_all_outliers():
    # Orthogonal features: every point is its own R*, no neighbour.
    labels, timings = pseudo_labels(torch.eye(8), k1=3, k2=1, eps=0.6)
    np.testing.assert_array_equal(labels, np.full(8, -1))
    assert set(timings) == set(PHASES + ['total'])


@pytest.mark.parametrize('kwargs, match', [
    (dict(eps=1.0), 'pseudo_labels: eps'),
    (dict(eps=0.0), 'pseudo_labels: eps'),
    (dict(k1=0), 'pseudo_labels: k1'),
    (dict(k2=-1), 'pseudo_labels: k2'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pseudo_labels(torch.randn(10, 4), **kwargs)
