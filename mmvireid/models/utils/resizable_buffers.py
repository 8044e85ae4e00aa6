"""Load buffers whose length changes during training (memories, labels)."""
from typing import Iterable, Mapping

from torch import Tensor, nn


def resize_buffers(module: nn.Module, state_dict: Mapping, prefix: str,
                   names: Iterable[str]) -> None:
    """Give buffers the length of their saved values before loading them.

    The memories and pseudo-labels of unsupervised training are buffers of
    shape ``(M, *S)`` whose ``M`` changes every epoch (clusters, training
    images), while ``torch.nn.Module.load_state_dict`` only copies into a
    tensor of the same shape. Called first in a module's
    ``_load_from_state_dict``, this replaces every named buffer whose saved
    value has the same trailing shape ``S`` by an empty one of the saved
    length, into which torch then copies the saved values. A saved value of
    another trailing shape is left to torch's size-mismatch error.

    Args:
        module (nn.Module): The module owning the buffers.
        state_dict (Mapping): The state dict being loaded.
        prefix (str): The module's key prefix in ``state_dict``.
        names (Iterable[str]): Names of the resizable buffers of ``module``.

    Example:
        >>> def _load_from_state_dict(self, state_dict, prefix, *args):
        ...     resize_buffers(self, state_dict, prefix, ('features', ))
        ...     super()._load_from_state_dict(state_dict, prefix, *args)
    """
    for name in names:
        saved = state_dict.get(prefix + name)
        current = getattr(module, name)
        if isinstance(saved, Tensor) and saved.dim() == current.dim() \
                and saved.shape[1:] == current.shape[1:]:
            setattr(module, name, current.new_empty(saved.shape))
