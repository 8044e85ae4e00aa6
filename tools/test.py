"""Evaluate a VI-ReID checkpoint under its dataset's official protocol.

Example:
    python tools/test.py configs/agw/agw_r50_sysu.py work_dirs/x/epoch_80.pth
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
    # the reference row of an ablation table: the model as training starts
    python tools/test.py configs/agw/agw_r50_sysu.py --untrained
"""
import argparse
import os
import os.path as osp
from copy import deepcopy

import mmengine
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmpretrain.utils import get_ori_model

from mmvireid.utils import (register_all_modules, setup_cpu_distributed,
                            teardown_distributed)


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
        '--out', help='dump the metrics to this file (json/yaml/pkl)')
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
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    if args.untrained:
        get_ori_model(runner.model).init_weights()
    metrics = runner.test()
    teardown_distributed()
    if args.out:
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
