"""Helpers of the end-to-end tests: a tiny config and tool runner."""
import os
import os.path as osp
import socket
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AGW_SYNTHETIC = osp.join(REPO, 'configs', 'agw',
                         'agw_r18_synthetic_sysu.py')


def write_tiny_config(path, data_root, base=AGW_SYNTHETIC, max_epochs=2,
                      extra=''):
    """A config inheriting ``base`` sized for tests: 32x16 input, two
    identities x (4 RGB + 4 IR) per batch, two iterations per epoch."""
    text = f'''
_base_ = [{base!r}]
data_root = {data_root!r}
img_h, img_w = 32, 16
train_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackVIReIDInputs'),
]
test_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='PackVIReIDInputs'),
]
model = dict(head=dict(num_classes=6))
train_dataloader = dict(
    batch_size=16, num_workers=0,
    sampler=dict(num_pids=2, num_instances=4, iters_per_epoch=2),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[1], gamma=0.1),
]
train_cfg = dict(max_epochs={max_epochs}, val_interval=100)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=-1))
{extra}
'''
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_tool(args, nproc=1, timeout=600):
    """Run tools/<script> in a subprocess, in one or ``nproc`` processes."""
    if nproc == 1:
        cmd = [sys.executable] + args
    else:
        cmd = [
            sys.executable, '-m', 'torch.distributed.run',
            f'--nproc_per_node={nproc}', f'--master_port={free_port()}'
        ] + args + ['--launcher', 'pytorch']
    # as tools/dist_train.sh: the repository is importable without install
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, env.get('PYTHONPATH')) if p)
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed:\n{proc.stdout[-4000:]}'
                             f'\n{proc.stderr[-6000:]}')
    return proc
