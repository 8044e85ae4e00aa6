"""L2-normalised cluster centroids from features and pseudo-labels."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .utils import check_features


def cluster_centroids(features: Tensor, labels) -> Tensor:
    """L2-normalised mean feature of each cluster; outliers (−1) ignored.

    Args:
        features (Tensor | np.ndarray): Features of shape (N, D).
        labels (Tensor | np.ndarray): Pseudo-labels of shape (N,), values
            in ``-1..C-1`` with every cluster ``0..C-1`` non-empty (as
            :func:`cluster_dbscan` returns).

    Returns:
        Tensor: Centroids of shape (C, D), float32, unit rows, on the device
        of ``features``; (0, D) when every label is −1.

    Example:
        >>> memory = cluster_centroids(feats, cluster_dbscan(dist, eps=0.6))
    """
    features = check_features(features)
    labels = torch.as_tensor(
        np.asarray(labels) if not isinstance(labels, Tensor) else labels).to(
            features.device)
    if labels.shape != features.shape[:1] or labels.is_floating_point():
        raise ValueError('cluster_centroids: labels must be integers of shape '
                         f'({features.size(0)},), got {labels.dtype} of '
                         f'shape {tuple(labels.shape)}')
    labels = labels.long()
    if bool((labels < -1).any()):
        raise ValueError('cluster_centroids: labels must be >= -1, got '
                         f'{int(labels.min())}')
    num_clusters = int(labels.max()) + 1
    keep = labels >= 0
    sizes = torch.bincount(labels[keep], minlength=num_clusters)
    if bool((sizes == 0).any()):
        raise ValueError('cluster_centroids: labels must cover 0..C-1, '
                         'missing '
                         f'{(sizes == 0).nonzero()[:, 0].tolist()}')
    sums = features.new_zeros(num_clusters, features.size(1)).index_add_(
        0, labels[keep], features[keep])
    return F.normalize(sums, dim=1)
