"""Pseudo-labels of both modalities, their association and statistics."""
import time
from typing import Dict, NamedTuple, Optional, Union

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

from mmvireid.structures import IR, MODALITY_NAMES, RGB
from .association import (associate_clusters, association_mappings,
                          check_association, instance_vote_association,
                          progressive_graph_matching)
from .centroids import cluster_centroids
from .knn import KNN_BACKENDS
from .pseudo_labels import pseudo_labels as modality_pseudo_labels


class CrossModalPseudoLabels(NamedTuple):
    """The result of :func:`cross_modal_pseudo_labels`.

    Attributes:
        pseudo_labels (np.ndarray): (N,) int64, the cluster of every image
            in its modality's label space ``0..C_m-1``, -1 for outliers.
        pairs (np.ndarray): (P, 2) int64 associated clusters, rows
            ``[rgb_label, ir_label]`` in priority order
            (:func:`association_mappings`).
        stats (dict[str, float]): ``num_clusters_<m>``, ``outliers_<m>``,
            ``images_<m>`` per modality (``rgb``, ``ir``),
            ``matched_pairs``, ``matched_<m>`` (clusters of each modality
            with a partner), ``match_cost`` (mean ``1 − cos`` of the
            centroids of the pairs, when there are any), ``time_cluster``
            (seconds of the clustering and the association) and, with true
            ids,
            :func:`clustering_ari`'s ``ari``, ``ari_rgb``, ``ari_ir``.
    """
    pseudo_labels: np.ndarray
    pairs: np.ndarray
    stats: Dict[str, float]


def check_clustering_args(k1: int,
                          k2: int,
                          eps: float,
                          min_samples: int,
                          knn_backend: str = 'auto',
                          owner: str = 'cross_modal_pseudo_labels',
                          association: Union[str, dict] = 'hungarian'
                          ) -> None:
    """Raise a ValueError naming the first argument out of its range.

    Args:
        k1, k2, eps, min_samples, knn_backend, association: As
            :func:`cross_modal_pseudo_labels`.
        owner (str): Who takes the arguments, for the message (e.g.
            ``'ClusteringHook'``).

    Example:
        >>> check_clustering_args(k1=0, k2=6, eps=0.6, min_samples=4,
        ...                       owner='ClusteringHook')
        ValueError: ClusteringHook: k1 must be an int >= 1 (the size of the
        k-reciprocal neighbourhood), got 0
    """
    for name, value, meaning in (
            ('k1', k1, 'the size of the k-reciprocal neighbourhood'),
            ('k2', k2, 'the size of the query expansion; 1 for none'),
            ('min_samples', min_samples,
             'the neighbours of a DBSCAN core point, itself included')):
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < 1:
            raise ValueError(f'{owner}: {name} must be an int >= 1 '
                             f'({meaning}), got {value!r}')
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) \
            or not 0 < eps < 1:
        raise ValueError(
            f'{owner}: eps must be a number in (0, 1) (the DBSCAN radius on '
            f'the Jaccard distance, which lies in [0, 1]), got {eps!r}')
    if knn_backend not in KNN_BACKENDS:
        raise ValueError(f'{owner}: knn_backend must be one of '
                         f'{KNN_BACKENDS}, got {knn_backend!r}')
    check_association(association, owner)


def cross_modal_pseudo_labels(
        features: torch.Tensor,
        modalities,
        k1: int = 30,
        k2: int = 6,
        eps: float = 0.6,
        min_samples: int = 4,
        knn_backend: str = 'auto',
        association: Union[str, dict] = 'hungarian',
        pids: Optional[np.ndarray] = None) -> CrossModalPseudoLabels:
    """Cluster each modality, associate the clusters, report statistics.

    The pseudo-label step of docs/en/recipes.md §5: per modality,
    :func:`pseudo_labels` (k-reciprocal Jaccard distance + DBSCAN, -1 =
    outlier), then the association of the RGB and IR clusters. A pure
    function of its arguments.

    Args:
        features (Tensor | np.ndarray): Features of every image, (N, D), on
            any device (the clustering runs there up to DBSCAN).
        modalities (array-like): ``modality`` of every image, (N,).
        k1 (int): k-reciprocal neighbourhood size. Defaults to 30.
        k2 (int): Query-expansion size. Defaults to 6.
        eps (float): DBSCAN radius, in (0, 1). Defaults to 0.6 (SYSU-MM01;
            0.3 RegDB).
        min_samples (int): DBSCAN core size. Defaults to 4.
        knn_backend (str): ``'auto'``, ``'faiss'`` or ``'torch'``.
            Defaults to ``'auto'``.
        association (str | dict): ``'hungarian'`` (ours,
            :func:`associate_clusters`: one-to-one on the centroids' 1 −
            cos), ``'pgm'`` (:func:`progressive_graph_matching`, keyword
            ``symmetric``) or ``'adca'`` (:func:`instance_vote_association`
            on the image features, keywords ``threshold``, ``block_size``);
            a dict gives the keywords, e.g. ``dict(type='pgm',
            symmetric=True)``. Defaults to ``'hungarian'``.
        pids (np.ndarray, optional): True ids, (N,): adds the adjusted Rand
            indices of :func:`clustering_ari` to the statistics (a
            diagnostic; the labels never depend on them).

    Returns:
        CrossModalPseudoLabels: ``pseudo_labels``, ``pairs`` and ``stats``.

    Example:
        >>> result = cross_modal_pseudo_labels(feats, modalities, k1=30,
        ...                                    k2=6, eps=0.6, min_samples=4)
        >>> result.stats['num_clusters_rgb'], result.pairs[:3]
    """
    check_clustering_args(k1, k2, eps, min_samples, knn_backend,
                          association=association)
    method, association_args = check_association(association)
    modalities = torch.as_tensor(modalities).cpu().numpy()
    if modalities.shape != (len(features), ):
        raise ValueError('cross_modal_pseudo_labels: modalities must have '
                         f'shape ({len(features)},), got {modalities.shape}')
    start = time.perf_counter()
    labels = np.full(len(modalities), -1, dtype=np.int64)
    centroids, member_features = [], []
    stats = {}
    for modality in (RGB, IR):
        name = MODALITY_NAMES[modality]
        members = np.flatnonzero(modalities == modality)
        member_feats = features[torch.from_numpy(members).to(
            features.device)]
        member_features.append(member_feats)
        if len(members):
            labels[members], _ = modality_pseudo_labels(
                member_feats,
                k1=k1,
                k2=k2,
                eps=eps,
                min_samples=min_samples,
                knn_backend=knn_backend)
            centroids.append(
                cluster_centroids(member_feats, labels[members]))
        else:
            centroids.append(features.new_zeros(0, features.shape[1]))
        stats[f'num_clusters_{name}'] = len(centroids[-1])
        stats[f'outliers_{name}'] = int((labels[members] < 0).sum())
        stats[f'images_{name}'] = len(members)
    if method == 'adca':
        pairs, costs = instance_vote_association(
            member_features[RGB], labels[modalities == RGB],
            member_features[IR], labels[modalities == IR],
            **association_args)
    else:
        associate = progressive_graph_matching if method == 'pgm' \
            else associate_clusters
        pairs, costs = associate(*centroids, **association_args)
    stats['matched_pairs'] = len(pairs)
    mappings = association_mappings(pairs, len(centroids[RGB]),
                                    len(centroids[IR]))
    for modality, mapping in zip((RGB, IR), mappings):
        stats[f'matched_{MODALITY_NAMES[modality]}'] = int(
            (mapping >= 0).sum())
    if len(costs):
        stats['match_cost'] = float(costs.mean())
    stats['time_cluster'] = time.perf_counter() - start
    if pids is not None:
        stats.update(clustering_ari(pids, modalities, labels, pairs))
    return CrossModalPseudoLabels(labels, pairs, stats)


def joint_pseudo_labels(pseudo_labels: np.ndarray, modalities: np.ndarray,
                        pairs: np.ndarray) -> np.ndarray:
    """One label space for both modalities, from the association.

    An RGB cluster keeps its label; an IR cluster takes the label of its
    associated RGB cluster (:func:`association_mappings`: the partner of its
    first pair), or a new one (after all RGB labels) when unmatched.
    Outliers stay -1. (In a many-to-one association, PGM's, the RGB clusters
    whose partner is an IR cluster associated with another RGB cluster keep
    their own joint label.)

    Args:
        pseudo_labels (np.ndarray): (N,) per-modality labels.
        modalities (np.ndarray): (N,) modality of every image.
        pairs (np.ndarray): (P, 2) ``[rgb_label, ir_label]`` in priority
            order.

    Returns:
        np.ndarray: (N,) int64 joint labels.
    """
    num_rgb, num_ir = (
        int(pseudo_labels[modalities == modality].max(initial=-1)) + 1
        for modality in (RGB, IR))
    ir_to_rgb = association_mappings(pairs, num_rgb, num_ir)[IR].numpy()
    ir_to_joint = np.where(ir_to_rgb >= 0, ir_to_rgb,
                           num_rgb + np.arange(num_ir))
    joint = pseudo_labels.astype(np.int64)
    is_ir = (modalities == IR) & (pseudo_labels >= 0)
    joint[is_ir] = ir_to_joint[pseudo_labels[is_ir]]
    return joint


def clustering_ari(pids: np.ndarray, modalities: np.ndarray,
                   pseudo_labels: np.ndarray,
                   pairs: np.ndarray) -> Dict[str, float]:
    """Adjusted Rand index of pseudo-labels against the true ids.

    Outliers count as singleton clusters. ``ari`` scores the
    :func:`joint_pseudo_labels` of both modalities (a wrong association
    lowers it), ``ari_rgb`` and ``ari_ir`` each modality alone (present
    when the modality has images).

    Args:
        pids (np.ndarray): (N,) true ids.
        modalities (np.ndarray): (N,) modality of every image.
        pseudo_labels (np.ndarray): (N,) per-modality labels.
        pairs (np.ndarray): (P, 2) ``[rgb_label, ir_label]``.

    Returns:
        dict[str, float]: ``ari``, ``ari_rgb``, ``ari_ir``.

    Example:
        >>> clustering_ari(dataset.pids, dataset.modalities, labels, pairs)
        {'ari': 0.41, 'ari_rgb': 0.52, 'ari_ir': 0.47}
    """
    pids, modalities, pseudo_labels = (np.asarray(a) for a in (
        pids, modalities, pseudo_labels))
    pairs = np.asarray(pairs).reshape(-1, 2)
    joint = joint_pseudo_labels(pseudo_labels, modalities, pairs)
    # plain floats: the statistics go into checkpoints (weights_only loads)
    scores = {
        'ari': float(adjusted_rand_score(pids, outliers_as_singletons(joint)))
    }
    for modality in (RGB, IR):
        members = modalities == modality
        if members.any():
            scores[f'ari_{MODALITY_NAMES[modality]}'] = float(
                adjusted_rand_score(
                    pids[members],
                    outliers_as_singletons(pseudo_labels[members])))
    return scores


def outliers_as_singletons(labels: np.ndarray) -> np.ndarray:
    """Give every -1 label its own new cluster id (how the adjusted Rand
    indices here count outliers).

    Args:
        labels (np.ndarray): (N,) cluster labels, -1 for outliers.

    Returns:
        np.ndarray: (N,) labels, each outlier a cluster of its own.
    """
    labels = labels.copy()
    outliers = labels < 0
    labels[outliers] = labels.max(initial=-1) + 1 + np.arange(outliers.sum())
    return labels
