"""Input checks, helpers and the sparse-row container of the clustering."""
import functools
from typing import Callable, NamedTuple

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


def single_threaded(func: Callable) -> Callable:
    """Run ``func`` with one intra-op CPU thread, then restore the setting.

    The sparse phases are chains of short memory-bound gathers, scatters and
    sorts. On this project's 2-core machines, with other processes on the
    cores, OpenMP barriers made them 3-5× slower in wall and CPU time with
    2 threads than with 1 (``sparse_jaccard`` at N = 22k: 34 s vs 7 s),
    while one thread loses little on an idle machine. CUDA work is
    unaffected.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return func(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper
