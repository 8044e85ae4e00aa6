"""Pseudo-labels of several training sets, in disjoint label spaces."""
from typing import Dict, Optional, Sequence

import numpy as np

from mmvireid.structures import IR, MODALITY_NAMES, RGB
from .cross_modal import CrossModalPseudoLabels, clustering_ari

#: Statistics that add up over the parts (counts and seconds).
_ADDITIVE = tuple(f'{kind}_{MODALITY_NAMES[m]}'
                  for kind in ('num_clusters', 'outliers', 'images')
                  for m in (RGB, IR)) + ('matched_pairs', 'time_cluster')


def concat_pseudo_labels(parts: Sequence[CrossModalPseudoLabels],
                         modalities,
                         pids: Optional[np.ndarray] = None
                         ) -> CrossModalPseudoLabels:
    """One clustering result from the results of consecutive parts.

    When a training set concatenates datasets
    (:class:`VIReIDConcatDataset`), each is clustered on its own (people
    never appear in two datasets) and the results are joined here: in each
    modality, the clusters of part ``i`` are numbered after those of the
    parts before it, and so are its associated pairs, so no two parts share
    a pseudo-label. A single part comes back as it is.

    Statistics: counts and seconds (``num_clusters_<m>``, ``outliers_<m>``,
    ``images_<m>``, ``matched_pairs``, ``time_cluster``) are summed,
    ``match_cost`` is the mean over all pairs, the adjusted Rand indices are
    those of the joined labels against ``pids`` (given), and any other
    statistic is kept per part as ``<key>_part<i>``.

    Args:
        parts (Sequence[CrossModalPseudoLabels]): The results of
            :func:`cross_modal_pseudo_labels` on consecutive slices of the
            training set, in order.
        modalities (array-like): ``modality`` of every item of the whole
            set, (N,).
        pids (np.ndarray, optional): True ids of the whole set in disjoint
            label spaces, (N,), for the adjusted Rand indices.

    Returns:
        CrossModalPseudoLabels: ``pseudo_labels`` (N,), ``pairs`` (ΣP, 2) and
        ``stats``.

    Example:
        >>> parts = [cross_modal_pseudo_labels(features[a:b], modalities[a:b])
        ...          for a, b in dataset.part_ranges]
        >>> result = concat_pseudo_labels(parts, modalities)
    """
    if not parts:
        raise ValueError('concat_pseudo_labels: no part given')
    if len(parts) == 1:
        return parts[0]
    modalities = np.asarray(modalities)
    num = sum(len(part.pseudo_labels) for part in parts)
    if modalities.shape != (num, ):
        raise ValueError(f'concat_pseudo_labels: modalities must have shape '
                         f'({num},) (the items of all parts), got '
                         f'{modalities.shape}')
    offsets = np.zeros(2, dtype=np.int64)  # next label of RGB, of IR
    labels, pairs, start = [], [], 0
    for part in parts:
        part_labels = np.asarray(part.pseudo_labels, dtype=np.int64).copy()
        part_modalities = modalities[start:start + len(part_labels)]
        start += len(part_labels)
        clustered = part_labels >= 0
        sizes = np.zeros(2, dtype=np.int64)
        for modality in (RGB, IR):
            members = clustered & (part_modalities == modality)
            sizes[modality] = part_labels[members].max(initial=-1) + 1
            part_labels[members] += offsets[modality]
        labels.append(part_labels)
        # pairs hold the RGB label in column RGB, the IR one in column IR
        pairs.append(np.asarray(part.pairs, dtype=np.int64).reshape(-1, 2) +
                     offsets[[RGB, IR]])
        offsets += sizes
    labels, pairs = np.concatenate(labels), np.concatenate(pairs)
    return CrossModalPseudoLabels(
        labels, pairs, _joined_stats(parts, modalities, labels, pairs, pids))


def _joined_stats(parts: Sequence[CrossModalPseudoLabels],
                  modalities: np.ndarray, labels: np.ndarray,
                  pairs: np.ndarray,
                  pids: Optional[np.ndarray]) -> Dict[str, float]:
    """The statistics of :func:`concat_pseudo_labels`."""
    stats: Dict[str, float] = {}
    for key in _ADDITIVE:
        if any(key in part.stats for part in parts):
            stats[key] = sum(part.stats.get(key, 0) for part in parts)
    costs = [(part.stats['match_cost'], part.stats['matched_pairs'])
             for part in parts if 'match_cost' in part.stats]
    if costs:
        stats['match_cost'] = float(
            sum(c * n for c, n in costs) / sum(n for _, n in costs))
    if pids is not None:
        stats.update(clustering_ari(pids, modalities, labels, pairs))
    for i, part in enumerate(parts):
        for key, value in part.stats.items():
            if key not in _ADDITIVE and key != 'match_cost' and \
                    not key.startswith('ari'):
                stats[f'{key}_part{i}'] = value
    return stats
