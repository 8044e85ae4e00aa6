"""Runs that fail as machines do: a kill -9 mid-epoch followed by --resume
ends bit-identical to the uninterrupted run (supervised and unsupervised,
with the shipped configs' loader settings), and a frozen rank fails a gloo
job within env_cfg.dist_cfg.timeout."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from e2e_utils import REPO, free_port, run_tool, write_tiny_config

pytestmark = pytest.mark.e2e

HERE = osp.dirname(osp.abspath(__file__))
SYNTHETIC_SPCL = osp.join(REPO, 'configs', 'spcl_id',
                          'spcl_id_r18_synthetic_sysu.py')

FAULT_HOOKS = '''
custom_imports = dict(imports=['fault_hooks'], allow_failed_imports=False)
'''
# The train loader as the shipped synthetic configs have it (one worker; the
# tools' default persistent_workers), at test size.
ONE_WORKER = "train_dataloader['num_workers'] = 1\n"


def unsup_config(path, data_root, extra_hook):
    """The synthetic SPCL-ID config at 32x16: 2 clusters x 4 images per
    modality, 2 iterations an epoch, clustering every epoch (one loader
    worker, as shipped)."""
    text = f'''
_base_ = [{SYNTHETIC_SPCL!r}]
data_root = {data_root!r}
pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(16, 32), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='PackVIReIDInputs'),
]
test_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(16, 32), keep_ratio=False),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(
    batch_size=16,
    sampler=dict(num_pids=2, num_instances=4, iters_per_epoch=2),
    dataset=dict(data_root=data_root, pipeline=pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [
    dict(type='ClusteringHook', pipeline=test_pipeline, min_samples=2,
         dataloader=dict(batch_size=8, num_workers=1)),
    dict(type='ProgressiveScheduleHook'),
    {extra_hook},
]
train_cfg = dict(max_epochs=3, val_interval=100)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=-1))
{FAULT_HOOKS}
'''
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


@pytest.fixture(autouse=True)
def fault_hooks_importable(monkeypatch):
    """tools/train.py (run_tool passes this environment on) can import
    fault_hooks."""
    monkeypatch.setenv(
        'PYTHONPATH',
        os.pathsep.join(p for p in (HERE, REPO, os.environ.get('PYTHONPATH'))
                        if p))


def kill_mid_run(cfg, work_dir, hook_index, at_iter, marker):
    """Start tools/train.py, SIGKILL it once iteration ``at_iter`` is done
    (in the middle of an epoch), and return the killed process.

    ``custom_hooks[hook_index]`` of ``cfg`` must be a PauseAtIterHook
    writing ``marker``; it is armed here.
    """
    proc = subprocess.Popen([
        sys.executable, 'tools/train.py', cfg, '--work-dir',
        str(work_dir), '--cfg-options',
        f'custom_hooks.{hook_index}.at_iter={at_iter}'
    ],
                            cwd=REPO,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 600
    while not osp.exists(marker):
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode()[-4000:])
        assert time.time() < deadline, 'the run never reached the kill'
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    # its loader worker notices the death of its parent and exits; do not
    # leave it to do so in the background of other tests
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.stderr.close()
    return proc


def assert_same_checkpoint(got, expected):
    got = torch.load(got, map_location='cpu', weights_only=False)
    expected = torch.load(expected, map_location='cpu', weights_only=False)
    assert got['meta']['epoch'] == expected['meta']['epoch']
    assert got['meta']['iter'] == expected['meta']['iter']
    assert got['state_dict'].keys() == expected['state_dict'].keys()
    for key, value in expected['state_dict'].items():
        assert torch.equal(got['state_dict'][key], value), key
    for key, state in expected['optimizer']['state'].items():
        for name, value in state.items():
            assert torch.equal(got['optimizer']['state'][key][name],
                               value), (key, name)


def run_killed_and_resumed(cfg, tmp_path, hook_index):
    """The uninterrupted run next to one killed in the middle of epoch 3 (2
    iterations an epoch), then resumed: both end with the same epoch 3."""
    full, killed = tmp_path / 'full', tmp_path / 'killed'
    reference = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir',
         str(full)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    kill_mid_run(cfg, killed, hook_index, 5, tmp_path / 'paused')
    assert not osp.exists(killed / 'epoch_3.pth')
    _, stderr = reference.communicate(timeout=600)
    assert reference.returncode == 0, stderr.decode()[-4000:]
    proc = run_tool(
        ['tools/train.py', cfg, '--work-dir',
         str(killed), '--resume'])
    assert 'resumed epoch: 2' in proc.stdout + proc.stderr
    assert_same_checkpoint(killed / 'epoch_3.pth', full / 'epoch_3.pth')


def pause_hook(tmp_path):
    """A PauseAtIterHook that never pauses unless armed (at_iter=0)."""
    return (f"dict(type='PauseAtIterHook', at_iter=0, "
            f"marker={str(tmp_path / 'paused')!r})")


def test_supervised_kill_and_resume_is_exact(tiny_sysu, tmp_path):
    cfg = write_tiny_config(
        tmp_path / 'agw.py',
        tiny_sysu,
        max_epochs=3,
        extra=FAULT_HOOKS + ONE_WORKER +
        f'custom_hooks = [{pause_hook(tmp_path)}]\n')
    run_killed_and_resumed(cfg, tmp_path, 0)


def test_unsupervised_kill_and_resume_is_exact(tiny_sysu, tmp_path):
    cfg = unsup_config(tmp_path / 'spcl.py', tiny_sysu, pause_hook(tmp_path))
    run_killed_and_resumed(cfg, tmp_path, 2)


def test_frozen_rank_fails_the_job_within_the_timeout(tiny_sysu, tmp_path):
    cfg = write_tiny_config(
        tmp_path / 'c.py',
        tiny_sysu,
        extra=FAULT_HOOKS +
        "custom_hooks = [dict(type='FreezeRankHook', rank=1, at_iter=1)]\n")
    start = time.time()
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={free_port()}', 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'w'), '--launcher', 'pytorch', '--cfg-options',
        'env_cfg.dist_cfg.timeout=5'
    ],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=300)
    elapsed = time.time() - start
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ('rank 0: a collective operation did not complete within '
            'env_cfg.dist_cfg.timeout=5 s: another process is frozen or has '
            'died') in log
    assert elapsed < 150, elapsed  # gloo's default timeout is 30 minutes
