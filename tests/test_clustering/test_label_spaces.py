import numpy as np
import pytest

from mmvireid.clustering import CrossModalPseudoLabels, concat_pseudo_labels
from mmvireid.structures import IR, RGB


def part(labels, pairs, **stats):
    return CrossModalPseudoLabels(
        np.array(labels), np.array(pairs, dtype=np.int64).reshape(-1, 2),
        stats)


def test_parts_get_disjoint_labels_per_modality():
    # part 0: RGB clusters 0, 1; IR cluster 0; pairs (0, 0)
    first = part([0, 1, -1, 0, 0], [[0, 0]], num_clusters_rgb=2,
                 num_clusters_ir=1, matched_pairs=1, match_cost=0.2,
                 time_cluster=1.0, ari=0.5, extra=7)
    # part 1: RGB cluster 0; IR clusters 0, 1; pairs (0, 1)
    second = part([0, 0, 1, -1, 0], [[0, 1]], num_clusters_rgb=1,
                  num_clusters_ir=2, matched_pairs=1, match_cost=0.6,
                  time_cluster=2.0, extra=9)
    modalities = np.array([RGB, RGB, RGB, IR, IR, RGB, IR, IR, IR, IR])
    result = concat_pseudo_labels([first, second], modalities)
    # RGB labels of part 1 start after part 0's two, IR after its one
    assert result.pseudo_labels.tolist() == [0, 1, -1, 0, 0,
                                             2, 1, 2, -1, 1]
    assert result.pairs.tolist() == [[0, 0], [2, 2]]
    assert result.stats == dict(num_clusters_rgb=3, num_clusters_ir=3,
                                matched_pairs=2, time_cluster=3.0,
                                match_cost=pytest.approx(0.4),
                                extra_part0=7, extra_part1=9)


def test_ari_is_recomputed_on_the_joined_labels():
    # each part alone clusters perfectly: label 0 in both parts would merge
    # ids 0 and 1 if the label spaces were not kept apart
    modalities = np.array([RGB, RGB, IR, IR, RGB, RGB, IR, IR])
    pids = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    parts = [part([0, 0, 0, 0], [[0, 0]]), part([0, 0, 0, 0], [[0, 0]])]
    result = concat_pseudo_labels(parts, modalities, pids)
    assert result.stats['ari'] == pytest.approx(1.0)


def test_one_part_and_errors():
    only = part([0, -1], [], num_clusters_rgb=1)
    assert concat_pseudo_labels([only], np.array([RGB, IR])) is only
    with pytest.raises(ValueError, match='no part'):
        concat_pseudo_labels([], np.array([]))
    with pytest.raises(ValueError, match=r'shape \(4,\)'):
        concat_pseudo_labels([only, only], np.array([RGB, IR]))
