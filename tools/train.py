"""Train a VI-ReID model with MMEngine's runner.

Example:
    python tools/train.py configs/agw/agw_r50_sysu.py
    python tools/train.py CONFIG --resume            # latest in work_dir
    python tools/train.py CONFIG --resume work_dirs/x/epoch_2.pth
    bash tools/dist_train.sh CONFIG 8                 # 8 processes (torchrun)
    python tools/train.py CONFIG --tensorboard       # also to TensorBoard
"""
import argparse
import logging
import os
import os.path as osp
from copy import deepcopy

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmvireid.utils import (checkpoint_files, explain_collective_timeout,
                            find_resume_checkpoint, install_checkpoint_policy,
                            register_all_modules, setup_cpu_distributed,
                            teardown_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a VI-ReID model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default='float16',
        help='dtype of --amp (bfloat16 needs no loss scaling)')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also write the scalars and images to TensorBoard (event files '
        'under the run\'s vis_data folder; needs the tensorboard package)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='whether not to evaluate the checkpoint during training')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='whether to disable the persistent_workers option in dataloaders.'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes `--local-rank` (torch >= 2.0).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments to config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher
    if args.tensorboard:
        add_tensorboard(cfg)

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = args.amp_dtype
        if args.amp_dtype == 'float16':
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        resume_from = find_resume_checkpoint(cfg.work_dir)
        if resume_from is None:
            print_log(
                f'--resume: {cfg.work_dir!r} holds no complete checkpoint to '
                'resume from; starting a new run.',
                logger='current',
                level=logging.WARNING)
        cfg.resume = resume_from is not None
        cfg.load_from = resume_from
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume {args.resume}: no such checkpoint file')
        cfg.resume = True
        cfg.load_from = args.resume

    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
        persistent_workers=True,
        collate_fn=dict(type='default_collate'),
    )

    def set_default_dataloader_cfg(cfg, field):
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        if field == 'train_dataloader':
            # Fresh train workers every epoch: EpochSeedHook seeds them from
            # (seed, epoch, rank, worker), which makes a resumed run exact,
            # and relabelled datasets reach them.
            dataloader_cfg.persistent_workers = False
        dataloader_cfg.update(cfg[field])
        cfg[field] = dataloader_cfg
        if args.no_pin_memory:
            cfg[field]['pin_memory'] = False
        if args.no_persistent_workers:
            cfg[field]['persistent_workers'] = False

    set_default_dataloader_cfg(cfg, 'train_dataloader')
    set_default_dataloader_cfg(cfg, 'val_dataloader')
    set_default_dataloader_cfg(cfg, 'test_dataloader')

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # persistent workers need workers (a --cfg-options may have removed them)
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field) and cfg[field].get('num_workers', 0) == 0:
            cfg[field].persistent_workers = False
    return cfg


def add_tensorboard(cfg):
    """Add MMEngine's ``TensorboardVisBackend`` to the visualizer."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise SystemExit('tools/train.py --tensorboard needs the tensorboard '
                         'package: pip install tensorboard (or pip install '
                         '-e ".[optional]")') from None
    backends = cfg.visualizer.setdefault('vis_backends', [])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))


def check_work_dir(cfg):
    """Refuse to start a new run over the checkpoints of an earlier one."""
    found = checkpoint_files(cfg.work_dir)
    if found:
        names = ', '.join(osp.basename(path) for path in found[:5])
        more = f' and {len(found) - 5} more' if len(found) > 5 else ''
        raise FileExistsError(
            f'work_dir {cfg.work_dir!r} already holds checkpoint files of an '
            f'earlier run ({names}{more}); a new run would overwrite them. '
            'Pass --resume to continue that run, or choose another '
            '--work-dir.')


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    # again, for checkpoint schemes registered by the config's custom_imports
    install_checkpoint_policy()
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg)
    if args.resume is None:  # with --resume, only damaged files may be left
        check_work_dir(cfg)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    with explain_collective_timeout(cfg):
        runner.train()
    teardown_distributed()


if __name__ == '__main__':
    main()
