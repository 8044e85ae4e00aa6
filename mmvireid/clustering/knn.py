"""Exact k-nearest-neighbour lists of a feature set against itself."""
from concurrent.futures import ThreadPoolExecutor
from typing import Tuple

import torch
from torch import Tensor

from .utils import check_features, single_threaded

KNN_BACKENDS = ('auto', 'torch', 'faiss')


def exact_knn(features: Tensor,
              k: int,
              backend: str = 'auto',
              block_size: int = 2048) -> Tuple[Tensor, Tensor]:
    """Exact L2 nearest neighbours of every row of ``features`` among all rows.

    Row ``i`` of the result lists its ``K = min(k, N)`` nearest rows by
    squared L2 distance ``|f_i|² + |f_j|² - 2·f_i·f_j`` (float32, as faiss
    evaluates it), in ascending order, with ``i`` itself forced
    to column 0 (the "itself first" of the k-reciprocal definition, even when
    duplicated features tie with it). Ties between other rows are broken by
    the backend and are deterministic for a given input and device.

    Backends:

    - ``'torch'``: blocked matrix products and ``torch.topk`` on
      ``features.device`` (CPU or CUDA). The self-kNN distance matrix is
      symmetric, so each ``block_size``² tile above the diagonal is computed
      once and used for its rows and its columns: half the multiply-adds of
      a plain search such as ``faiss.IndexFlatL2`` (which cannot exploit
      this). Memory O(N·k + workers·block_size²).
    - ``'faiss'``: ``faiss.IndexFlatL2`` (a GPU index when the features are on
      CUDA and faiss has GPU support).
    - ``'auto'``: faiss's GPU index for CUDA features when faiss-gpu is
      installed, else ``'torch'``.

    Args:
        features (Tensor): Features of shape (N, D); cast to float32.
        k (int): Number of neighbours wanted, self included.
        backend (str): ``'auto'``, ``'torch'`` or ``'faiss'``.
            Defaults to ``'auto'``.
        block_size (int): Tile side of the ``'torch'`` backend.
            Defaults to 2048.

    Returns:
        tuple[Tensor, Tensor]: ``indices`` of shape (N, K), int64, and
        ``similarities`` of shape (N, K), float32, the inner products
        ``f_i·f_j`` of each listed pair, both on ``features.device``.

    Example:
        >>> feats = torch.nn.functional.normalize(torch.randn(100, 16), dim=1)
        >>> indices, similarities = exact_knn(feats, k=30)
        >>> indices.shape, bool((indices[:, 0] == torch.arange(100)).all())
        (torch.Size([100, 30]), True)
    """
    features = check_features(features)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f'exact_knn: k must be a positive int, got {k!r}')
    if backend not in KNN_BACKENDS:
        raise ValueError(f'exact_knn: backend must be one of {KNN_BACKENDS}, '
                         f'got {backend!r}')
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError('exact_knn: block_size must be a positive int, got '
                         f'{block_size!r}')
    if backend == 'auto':
        backend = 'faiss' if features.is_cuda and _faiss_has_gpu() \
            else 'torch'
    k = min(k, features.size(0))
    if backend == 'faiss':
        return _faiss_knn(features, k)
    # Exact float32 products even where a config enabled TF32 / bf16.
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision('highest')
    try:
        return _torch_knn(features, k, block_size,
                          1 if features.is_cuda else torch.get_num_threads())
    finally:
        torch.set_float32_matmul_precision(precision)


def _faiss_has_gpu() -> bool:
    try:
        import faiss
    except ImportError:
        return False
    return hasattr(faiss, 'StandardGpuResources') and faiss.get_num_gpus() > 0


@single_threaded
def _torch_knn(features: Tensor, k: int, block_size: int,
               workers: int) -> Tuple[Tensor, Tensor]:
    """Tiles of the upper triangle, merged into running top-k lists.

    On CPU the tiles go to ``workers`` Python threads that each run torch
    with one intra-op thread (torch releases the GIL): on the shared 2-core
    machines under load, OpenMP's barriers took about 30 % more wall and CPU
    time than this (N = 22k), and both use every core when idle. The merges
    stay in this thread, in tile order (deterministic).
    """
    num = features.size(0)
    sq_norms = torch.einsum('nd,nd->n', features, features)
    best = (features.new_full((num, k), float('inf')),
            torch.zeros((num, k), dtype=torch.long,
                        device=features.device), features.new_zeros((num, k)))
    blocks = [
        slice(start, min(start + block_size, num))
        for start in range(0, num, block_size)
    ]
    tiles = [(rows, cols) for i, rows in enumerate(blocks)
             for cols in blocks[i:]]

    def tile_candidates(tile):
        rows, cols = tile
        sim = features[rows] @ features[cols].T
        # |f_j|² − 2·f_i·f_j, then + |f_i|², in place: two passes.
        dist = torch.add(sq_norms[cols], sim, alpha=-2)
        dist.add_(sq_norms[rows, None])
        if rows == cols:
            dist.fill_diagonal_(float('-inf'))
            return [_tile_top_k(dist, sim, cols.start, k)]
        return [
            _tile_top_k(dist, sim, cols.start, k),
            _tile_top_k(dist.T, sim.T, rows.start, k)
        ]

    if workers > 1 and not features.is_cuda:
        with ThreadPoolExecutor(workers) as pool:
            _merge_tiles(best, tiles, pool.map(tile_candidates, tiles), k)
    else:
        _merge_tiles(best, tiles, map(tile_candidates, tiles), k)
    return best[1], best[2]


def _tile_top_k(dist: Tensor, sim: Tensor, col_offset: int,
                k: int) -> Tuple[Tensor, Tensor, Tensor]:
    """The k smallest distances of each row of a tile, their columns, sims."""
    dist, pos = dist.topk(min(k, dist.size(1)), dim=1, largest=False)
    return dist, pos + col_offset, sim.gather(1, pos)


def _merge_tiles(best: Tuple[Tensor, Tensor, Tensor], tiles, candidates,
                 k: int) -> None:
    """Merge each tile's candidates into the rows' running top-k lists."""
    for (rows, cols), lists in zip(tiles, candidates):
        for block, tile_lists in zip((rows, cols), lists):
            merged = [
                torch.cat([old[block], new], dim=1)
                for old, new in zip(best, tile_lists)
            ]
            best[0][block], keep = merged[0].topk(k, dim=1, largest=False)
            best[1][block] = merged[1].gather(1, keep)
            best[2][block] = merged[2].gather(1, keep)


def _faiss_knn(features: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    import faiss
    num, dim = features.shape
    feats = features.detach().cpu().contiguous().numpy()
    index = faiss.IndexFlatL2(dim)
    if features.is_cuda and _faiss_has_gpu():
        resources = faiss.StandardGpuResources()  # must outlive the search
        index = faiss.index_cpu_to_gpu(resources, features.device.index or 0,
                                       index)
    index.add(feats)
    dist, indices = index.search(feats, k)
    indices = torch.from_numpy(indices).to(features.device)
    dist = torch.from_numpy(dist).to(features.device)
    # faiss ranks a duplicate of row i (distance 0) anywhere among its ties:
    # move i to column 0, or insert it there when the ties pushed it out.
    self_index = torch.arange(num, device=features.device)[:, None]
    is_self = indices == self_index
    order = torch.where(is_self, -1,
                        torch.arange(k, device=features.device)).argsort(1)
    indices = indices.gather(1, order)
    dist = dist.gather(1, order)
    missing = ~is_self.any(1, keepdim=True)
    indices = torch.where(missing, indices.roll(1, dims=1), indices)
    dist = torch.where(missing, dist.roll(1, dims=1), dist)
    indices[:, 0] = self_index[:, 0]
    sq_norms = torch.einsum('nd,nd->n', features, features)
    sim = (sq_norms[:, None] + sq_norms[indices] - dist) / 2
    sim[:, 0] = sq_norms
    return indices, sim
