"""Input checks, helpers and the sparse-row container of the clustering."""
import collections
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, NamedTuple, Optional

import numpy as np
import torch
from torch import Tensor


class SparseRows(NamedTuple):
    """An (N, N) sparse matrix in CSR arrays, on any torch device.

    (``torch.sparse_csr_tensor`` would do, but is still beta and warns;
    nothing here needs more than its three arrays.)

    Attributes:
        crow (Tensor): Row pointers of shape (N + 1,), int64.
        cols (Tensor): Column of each entry, shape (nnz,), int64, ascending
            inside each row.
        values (Tensor): Value of each entry, shape (nnz,), float32.
    """
    crow: Tensor
    cols: Tensor
    values: Tensor

    @classmethod
    def from_row_counts(cls, row_counts: Tensor, cols: Tensor,
                        values: Tensor) -> 'SparseRows':
        """Build from the number of entries of each row, in row order."""
        crow = row_counts.new_zeros(row_counts.numel() + 1)
        crow[1:] = row_counts.cumsum(0)
        return cls(crow, cols, values)

    @property
    def num_rows(self) -> int:
        return self.crow.numel() - 1

    def row_indices(self) -> Tensor:
        """Row of each entry, shape (nnz,), int64."""
        return torch.repeat_interleave(
            torch.arange(self.num_rows, device=self.crow.device),
            self.crow.diff(),
            output_size=self.cols.numel())


def check_features(features, name: str = 'features') -> Tensor:
    """Return ``features`` as a float32 (N, D) tensor with N ≥ 1, or raise.

    Args:
        features (Tensor | np.ndarray): Features of shape (N, D). A tensor
            stays on its device; an array becomes a CPU tensor.
        name (str): Name used in error messages. Defaults to ``'features'``.

    Returns:
        Tensor: The features, float32, shape (N, D).
    """
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor or np.ndarray, got '
                        f'{type(features).__name__}')
    if features.dim() != 2 or features.size(0) < 1 or features.size(1) < 1:
        raise ValueError(f'{name} must have shape (N, D) with N, D >= 1, got '
                         f'{tuple(features.shape)}')
    if not features.is_floating_point():
        raise TypeError(f'{name} must be floating point, got {features.dtype}')
    features = features.detach().float()
    # min/max propagate NaN and reach ±inf without an (N, D) temporary.
    if not bool(torch.isfinite(torch.stack(torch.aminmax(features))).all()):
        raise ValueError(f'{name} contains NaN or infinite values')
    return features


def take_rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` for an integer ``index`` of any shape.

    Same result as advanced indexing, through ``index_select``, which is
    several times faster on CPU for the large gathers of this package.

    Args:
        table (Tensor): Tensor of shape (M, *S).
        index (Tensor): Integer tensor of shape I, values in ``0..M-1``.

    Returns:
        Tensor: Shape (*I, *S).
    """
    return table.index_select(0, index.flatten()).view(*index.shape,
                                                       *table.shape[1:])


_threads = threading.local()


def single_threaded(func: Callable) -> Callable:
    """Run ``func`` with one intra-op CPU thread, then restore the setting.

    The sparse phases are chains of short memory-bound gathers, scatters and
    sorts. On this project's 2-core machines, with other processes on the
    cores, OpenMP barriers made them 3-5× slower in wall and CPU time with
    2 threads than with 1 (``sparse_jaccard`` at N = 22k: 34 s vs 7 s).
    Their parallel parts go to :func:`map_threads` instead, which uses
    :func:`cpu_workers` threads, the intra-op thread count set before the
    outermost decorated call. CUDA work is unaffected.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        outer = getattr(_threads, 'workers', None)
        _threads.workers = outer or threads
        torch.set_num_threads(1)
        try:
            return func(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
            _threads.workers = outer

    return wrapper


def cpu_workers() -> int:
    """Threads :func:`map_threads` uses: ``torch.get_num_threads()`` as the
    caller set it, also inside :func:`single_threaded` functions."""
    return getattr(_threads, 'workers', None) or torch.get_num_threads()


def map_threads(func: Callable,
                items: Iterable,
                workers: int,
                window: Optional[int] = None) -> Iterator:
    """Yield ``func(item)`` for every item, in order, computed on threads.

    ``workers`` Python threads each run torch with one intra-op thread
    (torch, numpy's large loops and faiss release the GIL): every core
    works on an idle machine, and on a loaded one no OpenMP barrier waits
    for a descheduled thread (about 30 % less time than OpenMP's two
    threads for the kNN at N = 22k). At most ``window`` items (default
    ``2 * workers``) are submitted and not yet yielded, which bounds the
    memory their results hold. With ``workers <= 1`` the items run in the
    calling thread.

    Args:
        func (Callable): Function of one item.
        items (Iterable): The items.
        workers (int): Number of threads.
        window (int, optional): Items in flight. Defaults to
            ``2 * workers``.

    Yields:
        The results, in the order of ``items``.
    """
    if workers <= 1:
        yield from map(func, items)
        return
    window = window or 2 * workers
    with ThreadPoolExecutor(
            workers, initializer=torch.set_num_threads,
            initargs=(1, )) as pool:
        pending = collections.deque()
        for item in items:
            if len(pending) == window:
                yield pending.popleft().result()
            pending.append(pool.submit(func, item))
        while pending:
            yield pending.popleft().result()
