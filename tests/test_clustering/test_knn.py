import numpy as np
import pytest
import torch

from mmvireid.clustering import exact_knn
from mmvireid.clustering.knn import _strip_knn


def brute_force(features, k):
    """Ranks by float64 squared distances, self forced first, ties by the
    smaller index (numpy's stable sort)."""
    f = features.double().numpy()
    dist = ((f[:, None] - f[None])**2).sum(-1)
    np.fill_diagonal(dist, -1)
    return np.argsort(dist, axis=1, kind='stable')[:, :k]


def lattice(side, copies=()):
    """Points of a side × side integer grid (every product exact in
    float32, so distances tie exactly), then copies of the given rows."""
    grid = torch.stack(
        torch.meshgrid(torch.arange(side), torch.arange(side),
                       indexing='ij'), -1).reshape(-1, 2).float()
    return torch.cat([grid, grid[list(copies)]])


@pytest.mark.parametrize('backend', ['torch', 'faiss'])
@pytest.mark.parametrize('block_size', [7, 64, 4096])
def test_matches_brute_force(backend, block_size):
    features = torch.randn(150, 12, generator=torch.Generator().manual_seed(0))
    indices, sims = exact_knn(
        features, 10, backend=backend, block_size=block_size)
    assert indices.shape == (150, 10) and indices.dtype == torch.long
    np.testing.assert_array_equal(indices.numpy(), brute_force(features, 10))
    expected = (features[:, None] * features[indices]).sum(-1)
    torch.testing.assert_close(sims, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('threads', [1, 3])
@pytest.mark.parametrize('block_size', [5, 16, 4096])
def test_ties_go_to_the_smaller_index(threads, block_size):
    # 8 × 8 grid plus copies: ties everywhere, including with self.
    features = lattice(8, copies=(0, 9, 9, 63))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        indices, sims = exact_knn(
            features, 13, backend='torch', block_size=block_size)
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_array_equal(indices.numpy(), brute_force(features, 13))
    expected = (features[:, None] * features[indices]).sum(-1)
    torch.testing.assert_close(sims, expected, atol=0, rtol=0)
    # The same rule at any k: shorter lists are prefixes of longer ones.
    shorter, _ = exact_knn(features, 5, block_size=block_size)
    np.testing.assert_array_equal(shorter.numpy(), indices[:, :5].numpy())


@pytest.mark.parametrize('block_size', [7, 64, 4096])
def test_strip_search_matches_brute_force(block_size):
    # The search used for CUDA features, run here on the CPU.
    features = torch.randn(150, 12, generator=torch.Generator().manual_seed(5))
    indices, sims = _strip_knn(features, 10, block_size)
    np.testing.assert_array_equal(indices.numpy(), brute_force(features, 10))
    expected = (features[:, None] * features[indices]).sum(-1)
    torch.testing.assert_close(sims, expected, atol=1e-5, rtol=1e-5)
    # Duplicates (rows 9, 10 copy row 4): self first, then its copies.
    indices, _ = _strip_knn(lattice(3, copies=(4, 4)), 4, block_size)
    assert indices[:, 0].tolist() == list(range(11))
    for row in (4, 9, 10):
        assert set(indices[row, :3].tolist()) == {4, 9, 10}


@pytest.mark.parametrize('threads', [1, 3])
def test_any_number_of_worker_threads(threads):
    features = torch.randn(200, 9, generator=torch.Generator().manual_seed(4))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        indices, _ = exact_knn(features, 12, block_size=32)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_array_equal(indices.numpy(), brute_force(features, 12))


def test_fewer_rows_than_k_lists_every_row():
    features = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    indices, sims = exact_knn(features, 30)
    assert indices.shape == (6, 6)
    np.testing.assert_array_equal(indices.numpy(), brute_force(features, 6))
    assert sorted(indices[3].tolist()) == list(range(6))


@pytest.mark.parametrize('backend', ['torch', 'faiss'])
def test_duplicates_self_first_then_copies(backend):
    base = torch.tensor([[0., 0.], [1., 0.], [5., 5.], [9., 1.]])
    # rows 0, 4 and 5 are the same point.
    features = torch.cat([base, base[:1], base[:1]])
    indices, _ = exact_knn(features, 3, backend=backend)
    assert indices[:, 0].tolist() == list(range(6))
    for i in (0, 4, 5):
        assert set(indices[i].tolist()) == {0, 4, 5}
    assert set(indices[1, 1:].tolist()) < {0, 4, 5}


@pytest.mark.parametrize('backend', ['torch', 'faiss'])
def test_more_copies_than_k_keep_self_first(backend):
    features = torch.cat([torch.ones(8, 3), torch.zeros(2, 3)])
    indices, sims = exact_knn(features, 3, backend=backend)
    assert indices[:, 0].tolist() == list(range(10))
    for i in range(8):
        assert len(set(indices[i].tolist())) == 3
        assert set(indices[i].tolist()) <= set(range(8))
    torch.testing.assert_close(sims[:8], torch.full((8, 3), 3.))


def test_single_row():
    indices, sims = exact_knn(torch.tensor([[3., 4.]]), 5)
    assert indices.tolist() == [[0]]
    assert sims.tolist() == [[25.]]


@pytest.mark.parametrize('kwargs, error', [
    (dict(k=0), ValueError),
    (dict(k=3, backend='annoy'), ValueError),
    (dict(k=3, block_size=0), ValueError),
])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        exact_knn(torch.randn(5, 3), **kwargs)


@pytest.mark.parametrize('features, error, match', [
    (torch.randn(5), ValueError, r'shape \(N, D\)'),
    (torch.zeros(0, 3), ValueError, r'shape \(N, D\)'),
    (torch.ones(4, 2, dtype=torch.long), TypeError, 'floating point'),
    (torch.tensor([[0., float('nan')], [1., 1.]]), ValueError, 'NaN'),
    ([[1., 2.]], TypeError, 'torch.Tensor or np.ndarray'),
])
def test_bad_features(features, error, match):
    with pytest.raises(error, match=match):
        exact_knn(features, 3)


def test_numpy_input():
    features = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    indices, _ = exact_knn(features, 4)
    np.testing.assert_array_equal(indices.numpy(),
                                  brute_force(torch.from_numpy(features), 4))


def test_full_precision_products_and_setting_restored():
    features = torch.randn(300, 64, generator=torch.Generator().manual_seed(2))
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision('medium')
    try:
        indices, _ = exact_knn(features, 20, backend='torch')
        assert torch.get_float32_matmul_precision() == 'medium'
    finally:
        torch.set_float32_matmul_precision(previous)
    np.testing.assert_array_equal(indices.numpy(), brute_force(features, 20))
