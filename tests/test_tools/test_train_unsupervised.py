"""Unsupervised training through tools/train.py in two gloo processes."""
import os
import os.path as osp

import pytest
import torch
from e2e_utils import REPO, run_tool

pytestmark = pytest.mark.e2e

SYNTHETIC_SPCL = osp.join(REPO, 'configs', 'spcl_id',
                          'spcl_id_r18_synthetic_sysu.py')


def write_unsup_config(path, data_root):
    """The synthetic SPCL-ID config at 32x16, 2 clusters x 4 images per
    modality, 2 iterations an epoch, 2 epochs, clustering every epoch."""
    text = f'''
_base_ = [{SYNTHETIC_SPCL!r}]
custom_imports = dict(imports=['unsup_state_dump'],
                      allow_failed_imports=False)
data_root = {data_root!r}
pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(16, 32), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackVIReIDInputs'),
]
test_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(16, 32), keep_ratio=False),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=0,
    sampler=dict(num_pids=2, num_instances=4, iters_per_epoch=2),
    dataset=dict(data_root=data_root, pipeline=pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [
    dict(type='ClusteringHook', pipeline=test_pipeline, min_samples=2,
         dataloader=dict(batch_size=8, num_workers=0)),
    dict(type='ProgressiveScheduleHook'),
    dict(type='DumpUnsupervisedStateHook'),
]
train_cfg = dict(max_epochs=2, val_interval=100)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=-1))
'''
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def test_two_processes_hold_identical_memories_and_labels(
        tiny_sysu, tmp_path, monkeypatch):
    monkeypatch.setenv(
        'PYTHONPATH', os.pathsep.join(
            [osp.dirname(__file__), REPO,
             os.environ.get('PYTHONPATH', '')]))
    cfg = write_unsup_config(tmp_path / 'unsup.py', tiny_sysu)
    work = tmp_path / 'ddp'
    proc = run_tool(['tools/train.py', cfg, '--work-dir', str(work)], nproc=2)
    log = proc.stdout + proc.stderr
    assert 'ClusteringHook: epoch 1:' in log
    assert 'Epoch(train) [2][2/2]' in log
    ranks = [torch.load(work / f'rank{r}.pth') for r in range(2)]
    assert torch.equal(ranks[0]['labels'], ranks[1]['labels'])
    assert set(ranks[0]['buffers']) == {
        'pseudo_labels', 'modalities', 'rgb_to_ir', 'ir_to_rgb',
        'cluster_memories.0.features', 'cluster_memories.1.features',
        'instance_memory.features'
    }
    for key, value in ranks[0]['buffers'].items():
        assert torch.equal(ranks[1]['buffers'][key], value), key
    # the memories were trained after the last clustering: the ranks agree
    # because every rank applied the all-gathered batches of both
    bank = ranks[0]['buffers']['instance_memory.features']
    assert bank.shape[0] == len(ranks[0]['labels'])
    assert torch.equal(ranks[0]['buffers']['pseudo_labels'],
                       ranks[0]['labels'])
    # rank 0's checkpoint holds the same state for a resume, once: in the
    # model's state dict
    ckpt = torch.load(work / 'epoch_2.pth', map_location='cpu')
    assert torch.equal(ckpt['state_dict']['head.memory.pseudo_labels'],
                       ranks[0]['labels'])
    assert torch.equal(
        ckpt['state_dict']['head.memory.instance_memory.features'], bank)
    assert set(ckpt['clustering']) == {'history'}
