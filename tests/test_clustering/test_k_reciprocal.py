import numpy as np
import pytest
import torch

from mmvireid.clustering import (k_reciprocal_encoding, k_reciprocal_sets,
                                 query_expansion)
from mmvireid.clustering.k_reciprocal import half_width

# A hand-made kNN list (N = 5, K = 4, self first), used with k1 = 4:
# R(i, k1) draws on the 4 columns, R(i, round(k1/2)) on round(2) + 1 = 3.
RANK = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 4], [3, 2, 4, 1],
                     [4, 3, 2, 0]])
# Worked by hand from the definition R(i, k) = {j in rank[i, :k+1] :
# i in rank[j, :k+1]}.
MASK_K1 = [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1],
           [1, 1, 1, 0]]
MASK_HALF = [[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 1, 1], [1, 1, 0]]
# R*(i): R(i, k1) plus each R(c, 2) with
# |R(c, 2) ∩ R(i, k1)| > 2/3 |R(c, 2)|, e.g. i = 0: R(0, 2) = {0, 1, 2}
# (3 > 2, in), R(1, 2) = {0, 1} (2 > 4/3, in), R(2, 2) = {0, 2, 3}
# (2 > 2 fails, out), so R*(0) = {0, 1, 2}.
EXPANDED = [{0, 1, 2}, {0, 1, 3}, {0, 2, 3, 4}, {1, 2, 3, 4}, {2, 3, 4}]


def dense(sparse_rows, num):
    out = np.zeros((num, num), dtype=np.float32)
    rows = sparse_rows.row_indices().numpy()
    out[rows, sparse_rows.cols.numpy()] = sparse_rows.values.numpy()
    return out


@pytest.mark.parametrize('k1, expected', [(30, 16), (20, 11), (5, 3), (7, 5),
                                          (1, 1), (2, 2)])
def test_half_width_rounds_half_to_even(k1, expected):
    # round(2.5) = 2 and round(0.5) = 0 (numpy's np.around does the same).
    assert half_width(k1) == expected


def test_reciprocal_sets_hand_example():
    mask_k1, mask_half = k_reciprocal_sets(RANK, k1=4)
    assert mask_k1.tolist() == [[bool(x) for x in row] for row in MASK_K1]
    assert mask_half.tolist() == [[bool(x) for x in row] for row in MASK_HALF]


def test_k1_above_n_uses_every_column():
    # N = 5 < k1: K = 5 columns (all rows); R(i, k1) and R(i, 15) use all 5.
    rank = torch.cat([RANK, torch.tensor([[4], [4], [1], [0], [1]])], dim=1)
    mask_k1, mask_half = k_reciprocal_sets(rank, k1=30)
    assert mask_k1.all() and mask_half.all()


@pytest.mark.parametrize('k1', [3, 5])
def test_rank_width_must_match_k1(k1):
    with pytest.raises(ValueError, match=r'shape \(N, min\(k1, N\)\)'):
        k_reciprocal_sets(RANK, k1=k1)


def test_encoding_hand_example_uniform_weights():
    # Equal similarities: V[i] is uniform over R*(i).
    mask_k1, mask_half = k_reciprocal_sets(RANK, k1=4)
    v = k_reciprocal_encoding(
        torch.zeros(5, 3), RANK, torch.zeros(5, 4), mask_k1, mask_half)
    expected = np.zeros((5, 5), dtype=np.float32)
    for i, members in enumerate(EXPANDED):
        expected[i, sorted(members)] = 1 / len(members)
    np.testing.assert_allclose(dense(v, 5), expected, rtol=1e-6)
    assert all(
        bool((row.diff() > 0).all())
        for row in torch.split(v.cols,
                               v.crow.diff().tolist()))


def test_encoding_weights_are_softmax_of_similarity():
    # Row 0 has R*(0) = {0, 1, 2}: weights ∝ exp(−(2 − 2·s)).
    mask_k1, mask_half = k_reciprocal_sets(RANK, k1=4)
    sims = torch.zeros(5, 4)
    sims[0, :3] = torch.tensor([1.0, 0.5, 0.25])
    v = k_reciprocal_encoding(
        torch.zeros(5, 3), RANK, sims, mask_k1, mask_half)
    logits = -(2 - 2 * np.array([1.0, 0.5, 0.25]))
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(dense(v, 5)[0, :3], expected, rtol=1e-6)


def test_query_expansion_is_mean_of_neighbour_rows():
    mask_k1, mask_half = k_reciprocal_sets(RANK, k1=4)
    sims = torch.rand(5, 4, generator=torch.Generator().manual_seed(0))
    v = k_reciprocal_encoding(
        torch.zeros(5, 3), RANK, sims, mask_k1, mask_half)
    v_dense = dense(v, 5)
    for k2, width in ((2, 2), (3, 3), (9, 4)):
        expected = v_dense[RANK[:, :width].numpy()].mean(1)
        np.testing.assert_allclose(
            dense(query_expansion(v, RANK, k2), 5),
            expected,
            rtol=1e-6,
            atol=1e-7)
    assert query_expansion(v, RANK, 1) is v
