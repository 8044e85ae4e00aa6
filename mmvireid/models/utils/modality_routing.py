"""Route every sample of a batch through the branch of its modality."""
from contextlib import contextmanager
from typing import (Any, Callable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import torch

from mmvireid.structures import MODALITY_NAMES

Maps = Union[torch.Tensor, Tuple[Any, ...]]

#: Routing chosen by :func:`routing_mode`, None: by :func:`is_exporting`.
_forced_sub_batches: Optional[bool] = None


def is_exporting() -> bool:
    """Whether the running forward is being captured as a graph.

    True inside ``torch.export`` (and ``torch.onnx.export``, built on it),
    the TorchScript ONNX exporter and ``torch.jit.trace``: captures that
    record one graph for every later batch, so they must not see sizes that
    depend on the values of ``modality``.
    """
    exporting = getattr(torch.compiler, 'is_exporting', None)  # torch>=2.5
    return (bool(exporting and exporting()) or torch.jit.is_tracing()
            or torch.onnx.is_in_onnx_export())


@contextmanager
def routing_mode(sub_batches: bool) -> Iterator[None]:
    """Route every :func:`route_by_modality` call of the block one way.

    For tools that count or time either computation whatever the capture:
    the FLOPs of eager inference under a FLOP counter's ``torch.jit.trace``
    (``sub_batches=True``), or the whole-batch graph an exported model runs,
    in eager mode (``sub_batches=False``). Calls that pass ``sub_batches``
    keep it.

    Args:
        sub_batches (bool): The routing of the block.

    Example:
        >>> with routing_mode(sub_batches=False):
        ...     feats = model.extract_feat(images, modality)  # as exported
    """
    global _forced_sub_batches
    previous, _forced_sub_batches = _forced_sub_batches, sub_batches
    try:
        yield
    finally:
        _forced_sub_batches = previous


def route_by_modality(x: torch.Tensor,
                      modality: torch.Tensor,
                      branches: Sequence[Callable[[torch.Tensor], Maps]],
                      sub_batches: Optional[bool] = None,
                      owner: str = 'route_by_modality') -> Maps:
    """Run every sample through the branch of its modality, keep the batch
    order.

    Branch ``m`` serves modality ``m`` (RGB = 0, IR = 1, see
    :mod:`mmvireid.structures`): the modality-specific stages of
    :class:`TwoStreamResNet`, the modality-specific modules of
    :class:`TwoStreamBackbone`, the modality-specific projections of
    :class:`DeepSupervisionNeck`. One loop runs over the modalities, none
    over the samples. Two ways, which give every sample the same output
    when the branches treat samples independently (eval mode):

    - sub-batches (training and eager inference): the samples of modality
      ``m`` go through branch ``m`` as one sub-batch, so a BatchNorm inside
      a branch normalises with, and updates its statistics from, that
      modality's images only; the outputs are gathered back in batch order.
      A modality the batch lacks is skipped: its branch is not called, so
      its parameters get no gradient (not a zero one, which SGD momentum /
      weight decay and Adam would still act on) and its BatchNorm counts no
      batch, exactly as if the branch did not exist for that batch. This
      is the routing's only Python branch on the values of ``modality``.
    - whole batch (graph capture: :func:`is_exporting`): every branch runs
      on the whole batch and each row takes the output of its modality's
      branch (``torch.where``). Shapes then never depend on the values of
      ``modality`` and nothing branches on them, so ``torch.export`` (and
      ``torch.onnx.export``, built on it) traces one graph for every mix of
      modalities, a batch lacking one included (data-dependent sub-batch
      sizes cannot be exported: BatchNorm tests them for emptiness). The
      price: every branch runs on all N samples. For a two-stream
      ResNet-50 (last stride 1) that adds 2 % to the backbone's FLOPs with
      a specific stem (AGW), 29 % with a specific stem + layer1 + layer2
      (MCLNet), which is why eager inference takes sub-batches too.

    Branches may return tuples that hold non-tensor items besides the
    (M, ...) tensors, e.g. the grid size a patch embedding returns with its
    tokens; such an item must be equal for every branch and is returned as
    it is.

    Args:
        x (Tensor): The batch, (N, ...).
        modality (Tensor): Modality of every sample, (N,) long, each the
            index of a branch (0 = RGB, 1 = IR).
        branches (Sequence[Callable]): One callable per modality, taking a
            (M, ...) batch and returning a tensor (M, ...) or a tuple, the
            same structure for every branch.
        sub_batches (bool, optional): Run each branch on its modality's
            samples only (see above). Defaults to None: as a surrounding
            :func:`routing_mode` says, else sub-batches unless
            :func:`is_exporting`.
        owner (str): Name of the caller, for error messages.

    Returns:
        Tensor | tuple: The outputs in batch order, each tensor (N, ...),
        with the structure a branch returns.

    Raises:
        ValueError: If ``modality`` is not (N,) or holds a value that names
            no branch, or if the branches return different non-tensor
            items.

    Example:
        >>> # in a module with one head per modality on (N, C, H, W) maps
        >>> out = route_by_modality(maps, modality, [rgb_head, ir_head])
    """
    if sub_batches is None:
        sub_batches = not is_exporting() if _forced_sub_batches is None \
            else _forced_sub_batches
    num = x.shape[0]
    if modality.shape != (num, ):
        raise ValueError(f'{owner}: modality must have shape ({num},), got '
                         f'{tuple(modality.shape)}')
    masks = [modality == code for code in range(len(branches))]
    if sub_batches:
        indices = [torch.nonzero(mask).squeeze(1) for mask in masks]
        unrouted = num - sum(index.shape[0] for index in indices)
    else:
        # counted apart from the batch size: an exported graph would
        # otherwise assert that count >= 2 (the batch sizes it traces)
        unrouted = (~torch.stack(masks).any(0)).sum().item()
    # Samples whose modality names no branch would be dropped (sub-batches)
    # or given branch 0's output (whole batch). torch._check_value raises
    # ValueError here and stays a runtime assertion in an exported graph,
    # where a Python `if` on a tensor value cannot be traced.
    all_routed = unrouted == 0
    if isinstance(all_routed, torch.Tensor):  # jit.trace: sizes are tensors
        all_routed = bool(all_routed)
    torch._check_value(all_routed,
                       lambda: _bad_values_message(owner, modality, branches))
    if sub_batches:
        return _gather_sub_batches(x, indices, branches, owner)
    outputs = [branch(x) for branch in branches]
    return _merge(outputs, lambda parts: _select_rows(masks, parts), owner)


def _gather_sub_batches(x: torch.Tensor, indices: List[torch.Tensor],
                        branches: Sequence[Callable], owner: str) -> Maps:
    """Branch m on the rows ``indices[m]`` of ``x``; rows back in order."""
    routed, outputs = [], []
    for index, branch in zip(indices, branches):
        if index.numel() == 0:
            continue
        routed.append(index)
        outputs.append(branch(x.index_select(0, index)))
    # rows of cat(outputs) are the samples of cat(routed): undo that order
    order = torch.cat(routed).argsort()
    return _merge(outputs,
                  lambda parts: torch.cat(parts).index_select(0, order),
                  owner)


def _merge(outputs: Sequence[Maps],
           combine: Callable[[Sequence[torch.Tensor]], torch.Tensor],
           owner: str) -> Maps:
    """Combine the branches' outputs, tensor by tensor; a non-tensor item
    of a tuple must be the same in every output and is kept."""
    if isinstance(outputs[0], torch.Tensor):
        return combine(outputs)
    merged = []
    for parts in zip(*outputs):
        if isinstance(parts[0], torch.Tensor):
            merged.append(combine(parts))
        elif all(part == parts[0] for part in parts[1:]):
            merged.append(parts[0])
        else:
            raise ValueError(f'{owner}: the branches return different '
                             f'non-tensor outputs {list(parts)}')
    return tuple(merged)


def _select_rows(masks: List[torch.Tensor],
                 outputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Row i of ``outputs[m]`` where ``masks[m][i]``; (N, ...)."""
    selected = outputs[0]
    for mask, output in zip(masks[1:], outputs[1:]):
        mask = mask.view((-1, ) + (1, ) * (output.dim() - 1))
        selected = torch.where(mask, output, selected)
    return selected


def _bad_values_message(owner: str, modality: torch.Tensor,
                        branches: Sequence) -> str:
    names = ' or '.join(
        f'{MODALITY_NAMES.get(code, "branch").upper()} ({code})'
        for code in range(len(branches)))
    return (f'{owner}: modality must be {names}, got values '
            f'{modality.unique().tolist()}')
