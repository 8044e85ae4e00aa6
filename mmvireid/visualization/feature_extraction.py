"""Test features of a split from a config and a checkpoint.

The analysis tools build MMEngine's :class:`Runner` from the config (so the
model, the default scope, the device and a ``--launcher`` are handled as in
``tools/test.py``), load the checkpoint only if its weights match the model
(MMEngine merely warns about missing, unexpected or mis-shaped weights) and
run ``model.test_step`` over the config's test data loader; the train split
is read with the test pipeline.
"""
import copy
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import collect_results, get_dist_info
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import CheckpointLoader, Runner
from mmengine.runner.checkpoint import load_state_dict
from mmengine.utils import ProgressBar

from mmvireid.evaluation.metrics.vireid_metric import VIReIDMetric
from mmvireid.registry import METRICS
from mmvireid.utils import setup_cpu_distributed
from .features_io import load_features

#: Data-sample fields written for each split (besides the feature).
SPLIT_FIELDS = {
    'train': ('pid', 'camid', 'modality', 'img_path'),
    'test': ('pid', 'camid', 'modality', 'img_path', 'is_query', 'is_gallery'),
}
#: How many key names an error message quotes.
_NUM_EXAMPLES = 5


def load_tool_config(config: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none') -> Config:
    """Read a config as the analysis tools do (like ``tools/test.py``).

    Args:
        config (str): Config file path.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): Work dir; None: the config's, else
            ``work_dirs/<config name>``.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``;
            without a GPU a launcher runs with gloo
            (:func:`setup_cpu_distributed`). Defaults to ``'none'``.

    Returns:
        Config: The merged config, with ``work_dir`` and ``launcher`` set.

    Raises:
        FileNotFoundError: If ``config`` is not a file.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config!r}: no such file')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    setup_cpu_distributed(cfg)
    return cfg


def check_checkpoint(model: torch.nn.Module,
                     state_dict: Mapping,
                     checkpoint: str,
                     config: Optional[str] = None) -> None:
    """Raise unless ``state_dict`` holds exactly the weights of ``model``.

    BatchNorm ``num_batches_tracked`` counters may be absent (MMEngine
    ignores them too).

    Args:
        model (torch.nn.Module): The model built from the config.
        state_dict (Mapping): Weights read from the checkpoint (tensors).
        checkpoint (str): The checkpoint's path, for the message.
        config (str, optional): The config's path, for the message.

    Raises:
        ValueError: Naming the counts and the first keys of the missing
            weights, unexpected weights and shape mismatches.
    """
    expected = model.state_dict()
    missing = [
        key for key in expected
        if key not in state_dict and not key.endswith('num_batches_tracked')
    ]
    unexpected = [key for key in state_dict if key not in expected]
    # memory banks sized by the clustering (RESIZABLE_BUFFERS) take the
    # checkpoint's size when loaded
    resizable = {
        f'{name}.{buffer}' if name else buffer
        for name, module in model.named_modules()
        for buffer in getattr(module, 'RESIZABLE_BUFFERS', ())
    }
    mismatched = [
        f'{key}: checkpoint {tuple(state_dict[key].shape)} vs model '
        f'{tuple(value.shape)}' for key, value in expected.items()
        if key in state_dict and state_dict[key].shape != value.shape
        and key not in resizable
    ]
    kinds = (('missing weights', missing), ('unexpected weights', unexpected),
             ('shape mismatches', mismatched))
    problems = [
        f'{len(names)} {what} (e.g. {", ".join(names[:_NUM_EXAMPLES])})'
        for what, names in kinds if names
    ]
    if problems:
        raise ValueError(
            f'checkpoint {checkpoint!r} does not match the model built from '
            f'{f"config {config!r}" if config else "the config"} '
            f'({type(model).__name__}): ' + '; '.join(problems) +
            '. Use the config the checkpoint was trained with, or adjust the '
            'model with --cfg-options (e.g. model.head.num_classes=N).')


def load_matching_checkpoint(model: torch.nn.Module,
                             checkpoint: str,
                             config: Optional[str] = None) -> dict:
    """Load a checkpoint into ``model`` after :func:`check_checkpoint`.

    Reads the file with MMEngine's :class:`CheckpointLoader` (the local path
    goes through mmvireid's ``weights_only`` policy), strips a DDP
    ``module.`` prefix as MMEngine's ``load_checkpoint`` does, checks and
    loads strictly.

    Args:
        model (torch.nn.Module): The model (not wrapped).
        checkpoint (str): Path of the checkpoint.
        config (str, optional): The config's path, for the messages.

    Returns:
        dict: The checkpoint (``meta`` and the rest).

    Raises:
        FileNotFoundError: If ``checkpoint`` is not a file.
        ValueError: If it holds no state dict, or one that does not match.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r}: no such file')
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state_dict = loaded.get('state_dict', loaded) if isinstance(
        loaded, Mapping) else None
    if not isinstance(state_dict, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(
            f'checkpoint {checkpoint!r} holds no state dict: expected an '
            "MMEngine checkpoint (a dict with 'state_dict') or a plain "
            'state dict of tensors')
    state_dict = OrderedDict((re.sub(r'^module\.', '', key), value)
                             for key, value in state_dict.items())
    check_checkpoint(model, state_dict, checkpoint, config)
    load_state_dict(model, state_dict, strict=True)
    return dict(loaded)


def split_dataloader_cfg(cfg: Config, split: str) -> dict:
    """The data-loader config that reads ``split`` with test transforms.

    ``'test'``: the config's ``test_dataloader``. ``'train'``: the same
    loader (batch size, sampler, workers) over the ``train_dataloader``'s
    dataset with the test pipeline (no random augmentation).

    Args:
        cfg (Config): The full config.
        split (str): ``'train'`` or ``'test'``.

    Returns:
        dict: A config for :meth:`Runner.build_dataloader`.
    """
    if split not in SPLIT_FIELDS:
        raise ValueError(f'split must be one of {sorted(SPLIT_FIELDS)}, got '
                         f'{split!r}')
    required = ['test_dataloader']
    if split == 'train':
        required.append('train_dataloader')
    for name in required:
        if not cfg.get(name):
            raise ValueError(f'config {cfg.filename!r} has no {name}; '
                             f'extracting the {split} split needs it')
    loader = copy.deepcopy(cfg.test_dataloader)
    if split == 'train':
        dataset = copy.deepcopy(cfg.train_dataloader.dataset)
        dataset['pipeline'] = copy.deepcopy(
            cfg.test_dataloader.dataset.get('pipeline', []))
        loader['dataset'] = dataset
    return loader


def evaluator_protocol(cfg: Config) -> dict:
    """Protocol, settings and trials of the config's :class:`VIReIDMetric`.

    Returns:
        dict: ``protocol``, ``settings`` (checked, list of dict) and
        ``num_trials`` of the first VIReIDMetric in ``test_evaluator``; all
        None when it has none.
    """
    evaluators = cfg.get('test_evaluator') or []
    if isinstance(evaluators, Mapping):
        evaluators = [evaluators]
    for evaluator in evaluators:
        metric_type = evaluator.get('type')
        metric_cls = METRICS.get(metric_type) if isinstance(
            metric_type, str) else metric_type
        if isinstance(metric_cls, type) and issubclass(metric_cls,
                                                       VIReIDMetric):
            metric = METRICS.build(copy.deepcopy(evaluator))
            return dict(protocol=metric.protocol,
                        settings=metric.settings,
                        num_trials=metric.num_trials)
    return dict(protocol=None, settings=None, num_trials=None)


def _sample_fields(sample, fields) -> dict:
    """The feature and the fields of one data sample from ``test_step``."""
    feature = sample.get('feature')
    if not isinstance(feature, torch.Tensor) or feature.ndim != 1:
        raise ValueError(
            "the model's test_step must set a (D,) tensor field 'feature' on "
            'every data sample (as VIReID.predict does), got '
            f'{getattr(feature, "shape", feature)!r}')
    item = dict(feature=feature.detach().float().cpu())
    for key in fields:
        value = sample.get(key)
        if value is None:
            raise KeyError(
                f'data sample of {sample.get("img_path")!r} lacks field '
                f'{key!r}; the test pipeline must pack it (PackVIReIDInputs '
                'meta_keys)')
        item[key] = value.item() if hasattr(value, 'item') else value
    return item


def extract_features(cfg: Config,
                     checkpoint: str,
                     split: str = 'test') -> Optional[Dict]:
    """Features and labels of a split, for :func:`save_features`.

    Builds the runner from ``cfg`` (which must hold ``work_dir``; its
    ``load_from`` and ``resume`` are ignored), loads ``checkpoint`` with
    :func:`load_matching_checkpoint`, then runs ``model.test_step`` over the
    split's loader (:func:`split_dataloader_cfg`) with an MMEngine progress
    bar on rank 0. In a distributed run the ranks' results are gathered.

    Args:
        cfg (Config): The full config.
        checkpoint (str): Path of the checkpoint.
        split (str): ``'test'`` or ``'train'``. Defaults to ``'test'``.

    Returns:
        dict | None: On rank 0, the keyword arguments of
        :func:`save_features`: ``features`` (N, D) float32, ``pid``,
        ``camid``, ``modality``, ``img_path`` (N,), for ``'test'`` also
        ``is_query`` and ``is_gallery`` (N,), and ``meta``. None on the
        other ranks.

    Example:
        >>> cfg = Config.fromfile('configs/agw/agw_r50_sysu.py')
        >>> cfg.work_dir = 'work_dirs/agw_r50_sysu'
        >>> data = extract_features(cfg, 'work_dirs/agw_r50_sysu/epoch_80.pth')
        >>> save_features('features_test.npz', **data)
    """
    loader_cfg = split_dataloader_cfg(cfg, split)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r}: no such file')
    cfg = copy.deepcopy(cfg)
    cfg.load_from, cfg.resume = None, False
    runner = (Runner.from_cfg(cfg)
              if 'runner_type' not in cfg else RUNNERS.build(cfg))
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    load_matching_checkpoint(model, checkpoint, cfg.filename)
    runner.model.eval()

    dataloader = runner.build_dataloader(loader_cfg, seed=runner.seed)
    dataset = dataloader.dataset
    if len(dataset) == 0:
        raise ValueError(f'the {split} split of {cfg.filename!r} has no '
                         'item; check the dataset paths and id lists')
    rank, world_size = get_dist_info()
    progress = ProgressBar(len(dataset)) if rank == 0 else None
    items: List[dict] = []
    with torch.no_grad():
        for data_batch in dataloader:
            samples = runner.model.test_step(data_batch)
            items.extend(
                _sample_fields(s, SPLIT_FIELDS[split]) for s in samples)
            if progress is not None:
                # every rank runs a batch of this size; the sampler pads the
                # last ones, which the count must not pass
                step = len(samples) * world_size
                progress.update(min(step, len(dataset) - progress.completed))
    items = collect_results(items, len(dataset), device='cpu')
    if rank != 0:
        return None

    data = dict(features=torch.stack([i['feature'] for i in items]).numpy())
    for key in SPLIT_FIELDS[split]:
        data[key] = np.array([i[key] for i in items])
    data['meta'] = dict(split=split,
                        dataset_name=dataset.metainfo.get('dataset_name'),
                        data_root=getattr(dataset, 'data_root', None),
                        config=cfg.filename,
                        checkpoint=osp.abspath(checkpoint),
                        **evaluator_protocol(cfg))
    return data


def features_from_args(features: Optional[str] = None,
                       config: Optional[str] = None,
                       checkpoint: Optional[str] = None,
                       split: str = 'test',
                       cfg_options: Optional[dict] = None,
                       work_dir: Optional[str] = None,
                       launcher: str = 'none') -> Optional[Dict]:
    """Features of a tool: a feature file, or a config and a checkpoint.

    Args:
        features (str, optional): A feature file (:func:`load_features`).
        config, checkpoint (str, optional): Extract with
            :func:`extract_features` instead (give both, and no
            ``features``).
        split, cfg_options, work_dir, launcher: For the extraction, see
            :func:`load_tool_config` and :func:`extract_features`.

    Returns:
        dict | None: The arrays of a feature file and its ``meta``; None on
        ranks other than 0 of a distributed extraction.
    """
    if features is not None:
        if config is not None or checkpoint is not None:
            raise ValueError('give either --features or CONFIG CHECKPOINT, '
                             'not both')
        return load_features(features)
    if config is None or checkpoint is None:
        raise ValueError('give a feature file (--features FILE.npz) or a '
                         'config and a checkpoint (CONFIG CHECKPOINT)')
    cfg = load_tool_config(config, cfg_options, work_dir, launcher)
    return extract_features(cfg, checkpoint, split=split)
