"""The features of a whole data loader, in dataset order, on every rank."""
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmengine import dist
from mmpretrain.utils import get_ori_model
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from torch import nn
from torch.utils.data import DataLoader

from mmvireid.models.utils import all_gather_batch

#: What ``extract_features`` returns as an image's feature: None, the
#: model's test feature; ``'mean_of_normalized'``, the mean of the
#: L2-normalised features of the image and of its horizontal flip.
FLIP_FUSIONS = (None, 'mean_of_normalized')


@torch.no_grad()
def extract_features(model: nn.Module,
                     dataloader: DataLoader,
                     fields: Sequence[str] = (),
                     description: Optional[str] = 'Extracting features',
                     gather: bool = True,
                     flip_fusion: Optional[str] = None) -> Dict:
    """Run ``model.test_step`` over a data loader; features in dataset order.

    Every data sample that ``test_step`` returns must hold a ``(D,)`` tensor
    field ``feature`` (as :meth:`VIReID.predict` sets) and its
    ``sample_idx``. Under several processes each rank runs the batches its
    sampler deals it; the features, the indices and the requested fields are
    then gathered on every rank and each row placed at its ``sample_idx``
    (MMEngine's ``DefaultSampler`` deals indices round-robin and pads the
    last round with repeats, which land on their own row again). Every item
    of the dataset must be seen. The model is put in eval mode and given back
    in the mode it came in. Rank 0 shows a progress bar (rich: redrawn on a
    terminal, one final line otherwise).

    Used by :class:`ClusteringHook` (the training set with the test pipeline,
    every epoch) and by the analysis tools (any split of a checkpoint).

    ``flip_fusion='mean_of_normalized'`` returns, instead of the model's test
    feature, the mean of the L2-normalised features of the image and of its
    horizontal flip, not renormalised (norm <= 1): the feature ADCA and PGM
    cluster (yangbincv/ADCA ``clustercontrast/evaluators.py`` L43–49, with
    the model's L2-normalised eval output, ``models/agw.py`` L251). The model
    must have VIReID's ``flip_test`` switch: it is turned off while the
    image and its flip (the batch's ``inputs`` reversed along the width) run
    as two test steps, and restored after.

    Args:
        model (nn.Module): The model, wrapped or not (its ``test_step``
            handles the data preprocessor).
        dataloader (DataLoader): Loader over the items to extract.
        fields (Sequence[str]): Data-sample fields to return with the
            features, e.g. ``('pid', 'camid', 'img_path')``: numbers or
            strings, one per sample. Defaults to none.
        description (str, optional): Label of the progress bar; None shows
            none. Defaults to ``'Extracting features'``.
        gather (bool): Gather the ranks' features as above. False: this
            process's batches only, without any collective (for a process
            that runs a loader over every item by itself, e.g.
            :func:`inference_model` on one rank of a job). Defaults to True.
        flip_fusion (str, optional): None for the model's test feature
            (VIReID: the mean of the raw features of the image and its flip,
            L2-normalised), or ``'mean_of_normalized'`` (see above).
            Defaults to None.

    Returns:
        dict: ``features``, an (N, D) float32 tensor on the device of the
        model's outputs, row ``i`` the item of ``sample_idx`` ``i``; and
        each of ``fields`` as an (N,) np.ndarray in the same order.

    Example:
        >>> loader = runner.build_dataloader(dict(
        ...     batch_size=64, num_workers=2, dataset=dataset,
        ...     sampler=dict(type='DefaultSampler', shuffle=False)))
        >>> data = extract_features(runner.model, loader, fields=('pid', ))
        >>> data['features'].shape, data['pid'].shape  # (N, D), (N,)
    """
    num = len(dataloader.dataset)
    if num == 0:
        raise ValueError('extract_features: the data loader\'s dataset has '
                         'no item')
    if flip_fusion not in FLIP_FUSIONS:
        raise ValueError(f'extract_features: flip_fusion must be one of '
                         f'{FLIP_FUSIONS}, got {flip_fusion!r}')
    was_training = model.training
    model.eval()
    features, indices = [], []
    values = {key: [] for key in fields}
    world_size = dist.get_world_size()
    with _progress(num, description) as advance, \
            _test_step(model, flip_fusion) as test_step:
        for data_batch in dataloader:
            samples = test_step(data_batch)
            features.append(_stack_features(samples))
            indices.append(
                torch.tensor([int(s.sample_idx) for s in samples],
                             device=features[-1].device))
            for key in fields:
                values[key].extend(_field(s, key) for s in samples)
            advance(len(samples) * (world_size if gather else 1))
    model.train(was_training)

    features, indices = torch.cat(features).float(), torch.cat(indices)
    if gather:
        features, indices = all_gather_batch(features, indices)
    ordered = features.new_zeros(num, features.shape[1])
    ordered[indices] = features
    covered = torch.zeros(num, dtype=torch.bool, device=indices.device)
    covered[indices] = True
    if not bool(covered.all()):
        missing = torch.nonzero(~covered).flatten()[:5].tolist()
        raise ValueError(
            f'extract_features: {int((~covered).sum())} of the {num} items '
            f'were never extracted (e.g. sample_idx {missing}); the '
            "loader's sampler must visit every item (DefaultSampler)")
    result = dict(features=ordered)
    rows = indices.cpu().numpy()
    for key in fields:
        gathered = _all_gather_values(values[key]) if gather else \
            np.asarray(values[key])
        column = np.empty(num, dtype=gathered.dtype)
        column[rows] = gathered
        result[key] = column
    return result


@contextmanager
def _test_step(model: nn.Module, flip_fusion: Optional[str]
               ) -> Iterator[Callable[[dict], List]]:
    """Yield the function that turns a batch into data samples with their
    ``feature``, as ``flip_fusion`` asks."""
    if flip_fusion is None:
        yield model.test_step
        return
    inner = get_ori_model(model)
    if not hasattr(inner, 'flip_test'):
        raise ValueError(
            f"extract_features: flip_fusion={flip_fusion!r} needs a model "
            "with VIReID's flip_test switch, got "
            f'{type(inner).__name__}')

    def test_step(data_batch: dict) -> List:
        # the two steps set the feature of the same data samples: read the
        # image's before the flip's overwrites it
        views = [_stack_features(model.test_step(data_batch))]
        inputs = data_batch['inputs']
        samples = model.test_step(
            dict(
                data_batch,
                inputs=inputs.flip(-1) if isinstance(inputs, torch.Tensor)
                else [image.flip(-1) for image in inputs]))
        views.append(_stack_features(samples))
        for sample, feature in zip(samples, (views[0] + views[1]) / 2):
            sample.set_field(feature, 'feature', field_type='data')
        return samples

    flip_test = inner.flip_test
    inner.flip_test = False
    try:
        yield test_step
    finally:
        inner.flip_test = flip_test


def _stack_features(samples) -> torch.Tensor:
    """The ``feature`` fields of a batch's data samples, (B, D)."""
    feats = [sample.get('feature') for sample in samples]
    for feat in feats:
        if not isinstance(feat, torch.Tensor) or feat.ndim != 1:
            raise ValueError(
                "extract_features: the model's test_step must set a (D,) "
                "tensor field 'feature' on every data sample (as "
                f'VIReID.predict does), got {getattr(feat, "shape", feat)!r}')
    return torch.stack(feats)


def _field(sample, key: str):
    """A data sample's ``key`` as a plain Python value."""
    value = sample.get(key)
    if value is None:
        raise KeyError(
            f'extract_features: the data sample of '
            f'{sample.get("img_path")!r} lacks the field {key!r}; the '
            'pipeline must pack it (PackVIReIDInputs meta_keys)')
    return value.item() if hasattr(value, 'item') else value


def _all_gather_values(values: list) -> np.ndarray:
    """This rank's per-sample values, every rank's in rank order (the order
    of :func:`all_gather_batch`), as one array."""
    if dist.get_world_size() > 1:
        values = [v for part in dist.all_gather_object(values) for v in part]
    return np.asarray(values)


@contextmanager
def _progress(total: int,
              description: Optional[str]) -> Iterator[Callable[[int], None]]:
    """A rank-0 progress bar over ``total`` items; yields ``advance(n)``.

    rich redraws it in place on a terminal and, when stdout is not one
    (Slurm, nohup, a pipe), writes only its final state, ending the line.
    (MMEngine's ``ProgressBar`` and mmpretrain's ``track_on_main_process``
    leave that line unterminated: the next log line is glued onto it.) The
    count stops at ``total``: the sampler's padding repeats items.
    """
    if description is None or not dist.is_main_process():
        yield lambda n: None
        return
    columns = (TextColumn('{task.description}'), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int) -> None:
            done = progress.tasks[0].completed
            progress.update(task, completed=min(total, done + n))

        yield advance
