"""Route every sample of a batch through the branch of its modality."""
from typing import Callable, List, Sequence, Tuple, Union

import torch

from mmvireid.structures import MODALITY_NAMES

Maps = Union[torch.Tensor, Tuple[torch.Tensor, ...]]


def route_by_modality(x: torch.Tensor,
                      modality: torch.Tensor,
                      branches: Sequence[Callable[[torch.Tensor], Maps]],
                      sub_batches: bool = True,
                      owner: str = 'route_by_modality') -> Maps:
    """Run every sample through the branch of its modality, keep the batch
    order.

    Branch ``m`` serves modality ``m`` (RGB = 0, IR = 1, see
    :mod:`mmvireid.structures`): the modality-specific stages of
    :class:`TwoStreamResNet`, the modality-specific projections of
    :class:`DeepSupervisionNeck`. One loop runs over the modalities, none
    over the samples. Two ways, which give every sample the same output
    when the branches treat samples independently (eval mode):

    - ``sub_batches=True`` (training): the samples of modality ``m`` go
      through branch ``m`` as one sub-batch, so a BatchNorm inside a branch
      normalises with, and updates its statistics from, that modality's
      images only; the outputs are gathered back in batch order. A modality
      the batch lacks is skipped: its branch is not called, so its
      parameters get no gradient (not a zero one, which SGD momentum /
      weight decay and Adam would still act on) and its BatchNorm counts no
      batch, exactly as if the branch did not exist for that batch. This
      is the routing's only Python branch on the values of ``modality``.
    - ``sub_batches=False`` (inference): every branch runs on the whole
      batch and each row takes the output of its modality's branch
      (``torch.where``). Shapes then never depend on the values of
      ``modality`` and nothing branches on them, so ``torch.export`` (and
      ``torch.onnx.export``, built on it) traces one graph for every mix of
      modalities, a batch lacking one included (data-dependent sub-batch
      sizes cannot be exported: BatchNorm tests them for emptiness). The
      price: every
      branch runs on all N samples. For a two-stream ResNet-50 (last stride
      1) that adds 2 % to the backbone's FLOPs with a specific stem (AGW),
      29 % with a specific stem + layer1 + layer2 (MCLNet).

    The modules route with ``sub_batches=self.training``.

    Args:
        x (Tensor): The batch, (N, ...).
        modality (Tensor): Modality of every sample, (N,) long, each the
            index of a branch (0 = RGB, 1 = IR).
        branches (Sequence[Callable]): One callable per modality, taking a
            (M, ...) batch and returning a tensor (M, ...) or a tuple of
            them, the same structure for every branch.
        sub_batches (bool): Run each branch on its modality's samples only
            (see above). Defaults to True.
        owner (str): Name of the caller, for error messages.

    Returns:
        Tensor | tuple[Tensor]: The outputs in batch order, each (N, ...),
        with the structure a branch returns.

    Raises:
        ValueError: If ``modality`` is not (N,) or holds a value that names
            no branch.

    Example:
        >>> # in a module with one head per modality on (N, C, H, W) maps
        >>> out = route_by_modality(maps, modality, [rgb_head, ir_head],
        ...                         sub_batches=self.training)
    """
    num = x.shape[0]
    if modality.shape != (num, ):
        raise ValueError(f'{owner}: modality must have shape ({num},), got '
                         f'{tuple(modality.shape)}')
    masks = [modality == code for code in range(len(branches))]
    if sub_batches:
        indices = [torch.nonzero(mask).squeeze(1) for mask in masks]
        routed = sum(index.shape[0] for index in indices)
    else:
        routed = torch.stack(masks).sum().item()
    # Samples whose modality names no branch would be dropped (sub-batches)
    # or given branch 0's output (whole batch). torch._check_value raises
    # ValueError here and stays a runtime assertion in an exported graph,
    # where a Python `if` on a tensor value cannot be traced.
    torch._check_value(routed == num,
                       lambda: _bad_values_message(owner, modality, branches))
    if sub_batches:
        return _gather_sub_batches(x, indices, branches)
    outputs = [branch(x) for branch in branches]
    if isinstance(outputs[0], torch.Tensor):
        return _select_rows(masks, outputs)
    return tuple(_select_rows(masks, parts) for parts in zip(*outputs))


def _gather_sub_batches(x: torch.Tensor, indices: List[torch.Tensor],
                        branches: Sequence[Callable]) -> Maps:
    """Branch m on the rows ``indices[m]`` of ``x``; rows back in order."""
    routed, outputs = [], []
    for index, branch in zip(indices, branches):
        if index.numel() == 0:
            continue
        routed.append(index)
        outputs.append(branch(x.index_select(0, index)))
    # rows of cat(outputs) are the samples of cat(routed): undo that order
    order = torch.cat(routed).argsort()
    if isinstance(outputs[0], torch.Tensor):
        return torch.cat(outputs).index_select(0, order)
    return tuple(
        torch.cat(parts).index_select(0, order) for parts in zip(*outputs))


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
