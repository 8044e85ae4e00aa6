import numpy as np
import pytest
import torch

from mmvireid.clustering import cluster_centroids


def test_normalised_means_ignoring_outliers():
    features = torch.tensor([[2., 0.], [0., 2.], [3., 4.], [9., 9.], [0., 1.]])
    labels = np.array([0, 0, 1, -1, 1])
    centroids = cluster_centroids(features, labels)
    s = 1 / np.sqrt(2)
    # cluster 0: mean (1, 1); cluster 1: mean (1.5, 2.5).
    expected = np.array([[s, s], np.array([1.5, 2.5]) / np.hypot(1.5, 2.5)])
    torch.testing.assert_close(centroids, torch.from_numpy(expected).float())


def test_all_outliers_give_no_centroid():
    centroids = cluster_centroids(torch.ones(3, 5), torch.full((3, ), -1))
    assert centroids.shape == (0, 5)


@pytest.mark.parametrize('labels, match', [
    (np.array([0, 2, 2]), r'missing \[1\]'),
    (np.array([0, -2, 0]), 'must be >= -1'),
    (np.array([0, 0]), 'integers of shape'),
    (np.array([0., 0., 0.]), 'integers of shape'),
])
def test_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        cluster_centroids(torch.ones(3, 2), labels)
