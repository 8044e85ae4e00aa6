"""Command-line helpers shared by the analysis tools.

The tools import this file as ``tool_utils`` (Python puts a script's folder
first on ``sys.path``). It reads a config as ``tools/test.py`` does, builds
MMEngine's runner from it (the model, the default scope, the device and a
``--launcher`` are then handled as in testing), loads a checkpoint with
:func:`mmvireid.apis.load_weights` and extracts a split with
:func:`mmvireid.apis.extract_features`.
"""
import argparse
import copy
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmpretrain.utils import get_ori_model

from mmvireid.apis import extract_features, load_features, load_weights
from mmvireid.evaluation.metrics.vireid_metric import VIReIDMetric
from mmvireid.registry import METRICS
from mmvireid.utils import setup_cpu_distributed

#: Data-sample fields written for each split (besides the feature).
SPLIT_FIELDS = {
    'train': ('pid', 'camid', 'modality', 'img_path'),
    'test': ('pid', 'camid', 'modality', 'img_path', 'is_query', 'is_gallery'),
}


def add_runner_args(parser: argparse.ArgumentParser,
                    work_dir_help: str = 'work dir of the extraction run'
                    ) -> None:
    """The runner options every analysis tool takes: ``--work-dir``,
    ``--cfg-options``, ``--launcher`` and ``--local_rank``."""
    parser.add_argument('--work-dir', help=work_dir_help)
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none',
                        help='job launcher of the extraction')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser,
                    args: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``args``; set ``LOCAL_RANK`` from ``--local_rank`` unless a
    launcher already did (as ``tools/train.py``)."""
    parsed = parser.parse_args(args)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(parsed.local_rank)
    return parsed


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


#: Attributes of the config's VIReIDMetric recorded in a feature file's meta.
METRIC_FIELDS = ('protocol', 'settings', 'num_trials', 'rerank',
                 'gallery_draw', 'rand_perm_file')


def evaluator_protocol(cfg: Config) -> dict:
    """Protocol and gallery options of the config's :class:`VIReIDMetric`.

    Returns:
        dict: ``protocol``, ``settings`` (checked, list of dict),
        ``num_trials``, ``rerank``, ``gallery_draw`` and ``rand_perm_file``
        of the first VIReIDMetric in ``test_evaluator`` (what the analysis
        tools need to rank as the metric does); all None when it has none.
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
            return {key: getattr(metric, key) for key in METRIC_FIELDS}
    return dict.fromkeys(METRIC_FIELDS)


def extract_split(cfg: Config,
                  checkpoint: str,
                  split: str = 'test',
                  pipeline: Optional[list] = None,
                  flip_fusion: Optional[str] = None) -> Optional[Dict]:
    """Features and labels of a split, for :func:`save_features`.

    Builds the runner from ``cfg`` (which must hold ``work_dir``; its
    ``load_from`` and ``resume`` are ignored), loads ``checkpoint`` with
    :func:`load_weights`, then extracts the split's loader
    (:func:`split_dataloader_cfg`) with :func:`extract_features`.

    Args:
        cfg (Config): The full config.
        checkpoint (str): Path of the checkpoint.
        split (str): ``'test'`` or ``'train'``. Defaults to ``'test'``.
        pipeline (list, optional): Read the split with this pipeline
            instead of the test pipeline. Defaults to None.
        flip_fusion (str, optional): As :func:`extract_features`. Defaults
            to None (the model's test feature).

    Returns:
        dict | None: On rank 0, the keyword arguments of
        :func:`save_features`: ``features`` (N, D) float32, ``pid``,
        ``camid``, ``modality``, ``img_path`` (N,), for ``'test'`` also
        ``is_query`` and ``is_gallery`` (N,), and ``meta``. None on the
        other ranks.

    Example:
        >>> cfg = load_tool_config('configs/agw/agw_r50_sysu.py')
        >>> data = extract_split(cfg, 'work_dirs/agw_r50_sysu/epoch_80.pth')
        >>> save_features('features_test.npz', **data)
    """
    loader_cfg = split_dataloader_cfg(cfg, split)
    if pipeline is not None:
        loader_cfg['dataset']['pipeline'] = copy.deepcopy(pipeline)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r}: no such file')
    cfg = copy.deepcopy(cfg)
    cfg.load_from, cfg.resume = None, False
    runner = (Runner.from_cfg(cfg)
              if 'runner_type' not in cfg else RUNNERS.build(cfg))
    load_weights(get_ori_model(runner.model), checkpoint, cfg.filename)
    dataloader = runner.build_dataloader(loader_cfg, seed=runner.seed)
    dataset = dataloader.dataset
    if len(dataset) == 0:
        raise ValueError(f'the {split} split of {cfg.filename!r} has no '
                         'item; check the dataset paths and id lists')
    data = extract_features(runner.model,
                            dataloader,
                            fields=SPLIT_FIELDS[split],
                            description=f'Extracting {split} features',
                            flip_fusion=flip_fusion)
    if runner.rank != 0:
        return None
    data['features'] = data['features'].cpu().numpy()
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
            :func:`extract_split` instead (give both, and no ``features``).
        split, cfg_options, work_dir, launcher: For the extraction, see
            :func:`load_tool_config` and :func:`extract_split`.

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
    return extract_split(cfg, checkpoint, split=split)
