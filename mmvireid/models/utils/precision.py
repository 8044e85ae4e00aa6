"""Compute a loss in float32 under mixed precision."""
import contextlib
import functools
from typing import Any, Callable

import torch

#: The dtypes :func:`float32_forward` casts to float32.
HALF_DTYPES = (torch.float16, torch.bfloat16)


def _upcast(value: Any) -> Any:
    """``value`` with its float16 / bfloat16 tensors cast to float32 (also
    inside lists and tuples); anything else unchanged."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in HALF_DTYPES else value
    if isinstance(value, (list, tuple)):
        return type(value)(_upcast(v) for v in value)
    return value


def _device_types(value: Any, found: set) -> set:
    """Add the device types of the tensors in ``value`` to ``found``."""
    if isinstance(value, torch.Tensor):
        found.add(value.device.type)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _device_types(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _device_types(v, found)
    return found


def float32_forward(forward: Callable) -> Callable:
    """Decorate a ``forward`` to compute in float32 under ``torch.autocast``.

    Under autocast (``tools/train.py --amp``) a matrix product runs in
    float16 / bfloat16 even on float32 operands, which is too coarse for a
    loss built on differences of similar numbers (squared distances
    ``|a|^2 + |b|^2 - 2 a.b``, similarity logits divided by a small
    temperature, KL terms). The decorated ``forward`` runs with autocast off
    on the devices of its tensor arguments, after casting its float16 /
    bfloat16 tensor arguments (also inside lists and tuples) to float32.
    Float32 and float64 arguments pass unchanged, so without autocast
    nothing changes and a float64 reference stays float64. Gradients flow
    back through the casts in the arguments' own dtypes.

    Args:
        forward (Callable): The ``forward`` method of a loss module.

    Returns:
        Callable: The wrapped method.

    Example:
        >>> class MyLoss(nn.Module):
        ...     @float32_forward
        ...     def forward(self, feats, labels):
        ...         ...  # feats is float32 here under bf16 autocast
    """

    @functools.wraps(forward)
    def wrapper(*args, **kwargs):
        device_types = _device_types(kwargs, _device_types(args, set()))
        with contextlib.ExitStack() as stack:
            for device_type in sorted(device_types):
                if torch.is_autocast_enabled(device_type):
                    stack.enter_context(
                        torch.autocast(device_type, enabled=False))
            return forward(*_upcast(args),
                           **{k: _upcast(v)
                              for k, v in kwargs.items()})

    return wrapper
