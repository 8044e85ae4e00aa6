"""Exact k-nearest-neighbour lists of a feature set against itself."""
from typing import Tuple

import faiss
import torch
from torch import Tensor

from .utils import check_features, cpu_workers, map_threads, single_threaded

KNN_BACKENDS = ('auto', 'torch', 'faiss')


def exact_knn(features: Tensor,
              k: int,
              backend: str = 'auto',
              block_size: int = 2048) -> Tuple[Tensor, Tensor]:
    """Exact L2 nearest neighbours of every row of ``features`` among all rows.

    Row ``i`` of the result lists its ``K = min(k, N)`` nearest rows in
    ascending squared L2 distance ``|f_i|² + |f_j|² - 2·f_i·f_j``, with
    ``i`` itself forced to column 0 (the "itself first" of the k-reciprocal
    definition, even when duplicated features tie with it).

    Backends:

    - ``'torch'``: float32 matrix products in torch. On CPU the self-kNN
      distance matrix being symmetric, each ``block_size``² tile on or above
      the diagonal is multiplied once and used for its rows and for its
      columns (half the multiply-adds of ``faiss.IndexFlatL2``, which
      cannot exploit this). Row i ranks its candidates j by the float32
      value of ``|f_j|² - 2·f_i·f_j`` (the row constant ``|f_i|²`` left
      out, so no rounding of it can create ties), merged into faiss's
      per-row heaps (``faiss.ResultHeap``) in increasing column order:
      distance ties are broken by the smaller index. The tiles are
      multiplied by ``torch.get_num_threads()`` Python threads running
      torch single-threaded, the heaps fed by the calling thread.
      On CUDA, row strips against all rows and ``torch.topk`` (ties broken
      by ``topk``). Memory O(N·k + threads·block_size²).
    - ``'faiss'``: ``faiss.IndexFlatL2`` (a GPU index when the features are
      on CUDA and faiss has GPU support).
    - ``'auto'``: faiss's GPU index for CUDA features when faiss-gpu is
      installed, else ``'torch'``.

    Args:
        features (Tensor | np.ndarray): Features of shape (N, D); cast to
            float32.
        k (int): Number of neighbours wanted, self included.
        backend (str): ``'auto'``, ``'torch'`` or ``'faiss'``.
            Defaults to ``'auto'``.
        block_size (int): Tile side (CPU) or strip height (CUDA) of the
            ``'torch'`` backend. Defaults to 2048.

    Returns:
        tuple[Tensor, Tensor]: ``indices`` of shape (N, K), int64, and
        ``similarities`` of shape (N, K), float32, the inner products
        ``f_i·f_j`` of each listed pair (within float32 rounding), both on
        ``features.device``.

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
    if isinstance(block_size, bool) or not isinstance(block_size, int) \
            or block_size < 1:
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
        if features.is_cuda:
            return _strip_knn(features, k, block_size)
        return _tile_heap_knn(features, k, block_size)
    finally:
        torch.set_float32_matmul_precision(precision)


def _faiss_has_gpu() -> bool:
    return hasattr(faiss, 'StandardGpuResources') and faiss.get_num_gpus() > 0


@single_threaded
def _tile_heap_knn(features: Tensor, k: int,
                   block_size: int) -> Tuple[Tensor, Tensor]:
    """Symmetric tiles on CPU, each used twice, merged into faiss's heaps.

    Why not ``torch.topk`` per tile: on the 2-core build machine a
    2048² tile costs about 120 ms of matrix product, and ``topk`` of its
    rows and of its columns (strided) about 25 + 40 ms, while the heaps
    reject almost every entry with one comparison (a few ms per side).
    The column side is transposed into a contiguous buffer first.

    The tiles go to :func:`map_threads`; the calling thread feeds the heaps
    in tile order, so each row receives its candidates in increasing column
    order whatever the thread timing (deterministic; ties kept by the
    smaller index). At most ``workers + 1`` tiles are in flight, each with
    two reused buffers.
    """
    num = features.size(0)
    workers = cpu_workers()
    sq_norms = torch.linalg.vecdot(features, features)
    heap = faiss.ResultHeap(num, k)
    blocks = [
        slice(start, min(start + block_size, num))
        for start in range(0, num, block_size)
    ]
    tiles = [(rows, cols) for i, rows in enumerate(blocks)
             for cols in blocks[i:]]
    free_buffers = [
        torch.empty(2, min(block_size, num)**2) for _ in range(workers + 1)
    ]

    def tile_distances(tile):
        rows, cols = tile
        buffers = free_buffers.pop()
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        row_side = buffers[0, :shape[0] * shape[1]].view(shape)
        torch.mm(features[rows], features[cols].T, out=row_side)
        col_side = None
        if rows != cols:
            col_side = buffers[1, :shape[0] * shape[1]].view(shape[::-1])
            col_side.copy_(row_side.T)
            torch.add(sq_norms[rows], col_side, alpha=-2, out=col_side)
        torch.add(sq_norms[cols], row_side, alpha=-2, out=row_side)
        if rows == cols:
            row_side.fill_diagonal_(float('-inf'))
        return buffers, row_side, col_side

    faiss_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        results = map_threads(tile_distances, tiles, workers, workers + 1)
        for (rows, cols), (buffers, row_side, col_side) in zip(tiles, results):
            _heap_add(heap, row_side, rows.start, cols.start)
            if col_side is not None:
                _heap_add(heap, col_side, cols.start, rows.start)
            free_buffers.append(buffers)
        heap.finalize()
    finally:
        faiss.omp_set_num_threads(faiss_threads)
    indices = torch.from_numpy(heap.I)
    # The ranked value is |f_j|² − 2·f_i·f_j: recover f_i·f_j from it.
    sims = (sq_norms[indices] - torch.from_numpy(heap.D)) / 2
    sims[:, 0] = sq_norms
    return indices, sims


def _heap_add(heap: 'faiss.ResultHeap', values: Tensor, first_row: int,
              first_id: int) -> None:
    """Offer ``values[r, c]`` with id ``first_id + c`` to heap ``first_row +
    r`` (``HeapArray.addn``, in faiss's C++ API since its first releases)."""
    rows, cols = values.shape
    heap.heaps.addn(cols, faiss.swig_ptr(values.numpy()), first_id,
                    first_row, rows)


def _strip_knn(features: Tensor, k: int,
               block_size: int) -> Tuple[Tensor, Tensor]:
    """Row strips against every row and ``torch.topk`` (for CUDA, where
    ``topk`` is cheap and the faiss heaps would need a copy to the host)."""
    num = features.size(0)
    sq_norms = torch.linalg.vecdot(features, features)
    indices, sims = [], []
    for start in range(0, num, block_size):
        rows = slice(start, min(start + block_size, num))
        sim = features[rows] @ features.T
        dist = torch.add(sq_norms, sim, alpha=-2)
        dist[:, rows].fill_diagonal_(float('-inf'))
        index = dist.topk(k, dim=1, largest=False).indices
        indices.append(index)
        sims.append(sim.gather(1, index))
    return torch.cat(indices), torch.cat(sims)


def _faiss_knn(features: Tensor, k: int) -> Tuple[Tensor, Tensor]:
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
    sq_norms = torch.linalg.vecdot(features, features)
    sim = (sq_norms[:, None] + sq_norms[indices] - dist) / 2
    sim[:, 0] = sq_norms
    return indices, sim
