"""Evaluate a VI-ReID checkpoint under its dataset's official protocol.

``--out FILE.json`` writes one JSON object (``.yaml`` / ``.pkl`` give the
same object in those formats):

- ``metrics``: the aggregate scores as logged, e.g. ``"sysu/all/R1"`` and
  ``"sysu/all/R1_std"``, in percent;
- ``queries``: one record per query of every trial of every setting of each
  ``VIReIDMetric``, in that order: ``metric`` (its prefix, e.g.
  ``"sysu"``), ``setting``, ``trial`` (0-based; the log's "trial t+1"),
  ``img_path``, ``pid``, ``camid``, ``valid`` (false: no true match left
  after the protocol's removals, so not scored), ``ap`` and ``inp`` (in
  [0, 1]) and ``first_match_rank`` (1-based, on the ranking the CMC uses:
  identity-deduplicated for SYSU-MM01 and LLCM), the last three null when
  not valid. ``pandas.DataFrame(json.load(f)['queries'])`` reads them as a
  table.

Example:
    python tools/test.py configs/agw/agw_r50_sysu.py work_dirs/x/epoch_80.pth
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
    # the reference row of an ablation table: the model as training starts
    python tools/test.py configs/agw/agw_r50_sysu.py --untrained
    # per-query AP / INP / first-match rank next to the metrics
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/x/results.json
"""
import argparse
import os
import os.path as osp
from copy import deepcopy

import mmengine
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.dist import is_main_process
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmpretrain.utils import get_ori_model

from mmvireid.evaluation import VIReIDMetric
from mmvireid.utils import (explain_collective_timeout,
                            install_checkpoint_policy, register_all_modules,
                            setup_cpu_distributed, teardown_distributed)

#: File types ``--out`` can write (those of ``mmengine.dump``).
OUT_SUFFIXES = ('.json', '.yaml', '.yml', '.pkl', '.pickle')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a VI-ReID model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', nargs='?', help='checkpoint file (or --untrained)')
    parser.add_argument(
        '--untrained',
        action='store_true',
        help='evaluate the model as training would start it (the config\'s '
        'init_weights, e.g. its pretrained weights, after seeding) instead '
        'of a checkpoint')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        help='write the metrics and the per-query results (AP, INP and '
        'first-match rank of every query of every trial) to this JSON file '
        '(.yaml / .pkl also work); see this script\'s docstring')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--amp', action='store_true', help='enable mixed-precision test')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if args.out and osp.splitext(args.out)[1].lower() not in OUT_SUFFIXES:
        raise SystemExit(f'tools/test.py: --out {args.out!r} must end in one '
                         f'of {OUT_SUFFIXES} (JSON is the documented format)')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments to config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.untrained == (args.checkpoint is not None):
        raise SystemExit('tools/test.py: give a checkpoint or --untrained '
                         '(exactly one of them)')
    if args.checkpoint is not None:
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(
                f'checkpoint {args.checkpoint!r}: no such file')
        cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True

    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
        collate_fn=dict(type='default_collate'),
    )
    if cfg.get('test_dataloader', None) is not None:
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        dataloader_cfg.update(cfg.test_dataloader)
        cfg.test_dataloader = dataloader_cfg
        if args.no_pin_memory:
            cfg.test_dataloader.pin_memory = False

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    # again, for checkpoint schemes registered by the config's custom_imports
    install_checkpoint_policy()
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    if args.untrained:
        get_ori_model(runner.model).init_weights()
    with explain_collective_timeout(cfg):
        metrics = runner.test()
    # Only rank 0 holds the per-query results (MMEngine computes metrics
    # there); ask before the process group is gone.
    write_out = args.out and is_main_process()
    teardown_distributed()
    if write_out:
        mmengine.dump(
            dict(metrics=metrics, queries=per_query_results(runner)),
            args.out)


def per_query_results(runner: Runner) -> list:
    """Per-query records of every :class:`VIReIDMetric` of the test
    evaluator (see the module docstring)."""
    return [
        dict(metric=metric.prefix, **record)
        for metric in runner.test_evaluator.metrics
        if isinstance(metric, VIReIDMetric)
        for record in metric.per_query_records()
    ]


if __name__ == '__main__':
    main()
