"""SafeCheckpointHook: atomic writes, removal after success, and nothing a
resumed checkpoint says reaches outside the work dir."""
import errno
import itertools
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmvireid.engine.hooks import SafeCheckpointHook, safe_checkpoint_hook
from mmvireid.utils import find_resume_checkpoint, is_complete_checkpoint
from mmvireid.utils.work_dir import TEMP_PREFIX


class Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [out]


class ScoreMetric(BaseMetric):
    """Reports ``scores[k]`` at the k-th evaluation."""

    def __init__(self, scores):
        super().__init__()
        self.scores = list(scores)
        self.calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        self.calls += 1
        return dict(score=self.scores[self.calls - 1])


RUN_IDS = itertools.count()


def build_runner(work_dir, scores, max_epochs, **kwargs):
    loader = dict(
        dataset=[dict(inputs=torch.ones(2))] * 4,
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        num_workers=0,
        collate_fn=dict(type='pseudo_collate'))
    hook = dict(interval=1, save_best='score', rule='greater')
    hook.update(kwargs.pop('hook', {}))
    return Runner(
        model=Toy(),
        work_dir=str(work_dir),
        experiment_name=f'safe_checkpoint_{next(RUN_IDS)}',
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=Evaluator(ScoreMetric(scores)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=SafeCheckpointHook(**hook)),
        default_scope='mmengine',
        log_level='WARNING',
        **kwargs)


@pytest.fixture
def warnings_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(safe_checkpoint_hook, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    return logged


def pth_files(work_dir):
    return sorted(
        name for name in os.listdir(work_dir)
        if name.endswith('.pth') or name.startswith(TEMP_PREFIX))


def test_best_and_kept_checkpoints(tmp_path):
    build_runner(
        tmp_path, [1, 3, 2], 3, hook=dict(max_keep_ckpts=2)).train()
    assert pth_files(tmp_path) == [
        'best_score_epoch_2.pth', 'epoch_2.pth', 'epoch_3.pth'
    ]
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == osp.join(str(tmp_path), 'epoch_3.pth')
    for name in pth_files(tmp_path):
        assert is_complete_checkpoint(str(tmp_path / name))


@pytest.fixture
def failing_replace(monkeypatch):
    """``os.replace`` onto a name starting with ``prefix`` fails as a full
    disk would (the temporary file is complete by then)."""
    real_replace = os.replace
    fail = dict(prefix=None)

    def replace(src, dst):
        if fail['prefix'] and osp.basename(dst).startswith(fail['prefix']):
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', replace)
    return fail


def test_interrupted_best_write_keeps_the_previous_best(
        tmp_path, failing_replace):
    failing_replace['prefix'] = 'best_score_epoch_2'
    runner = build_runner(tmp_path, [1, 2], 2)
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    # MMEngine removes the previous best before writing the new one
    assert pth_files(tmp_path) == [
        'best_score_epoch_1.pth', 'epoch_1.pth', 'epoch_2.pth'
    ]
    assert is_complete_checkpoint(str(tmp_path / 'best_score_epoch_1.pth'))
    ckpt = torch.load(tmp_path / 'best_score_epoch_1.pth', weights_only=True)
    assert ckpt['meta']['epoch'] == 1


def test_failed_save_keeps_the_oldest_kept_checkpoint(tmp_path,
                                                      failing_replace):
    failing_replace['prefix'] = 'epoch_3'
    runner = build_runner(
        tmp_path, [1, 1, 1], 3, hook=dict(save_best=None, max_keep_ckpts=2))
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    # MMEngine removes epoch_1 before writing epoch_3
    assert pth_files(tmp_path) == ['epoch_1.pth', 'epoch_2.pth']
    assert find_resume_checkpoint(str(tmp_path)) == osp.join(
        str(tmp_path), 'epoch_2.pth')


def crafted_resume_checkpoint(tmp_path, runtime_info, meta=None):
    """A real epoch-1 checkpoint whose runtime info (and meta) is edited."""
    source = tmp_path / 'source'
    build_runner(source, [1], 1).train()
    ckpt = torch.load(source / 'epoch_1.pth', weights_only=False)
    ckpt['message_hub']['runtime_info'].update(runtime_info)
    ckpt['meta'].update(meta or {})
    path = tmp_path / 'crafted.pth'
    torch.save(ckpt, path)
    return str(path)


def test_resumed_best_ckpt_outside_the_work_dir_is_not_removed(
        tmp_path, warnings_logged):
    victim = tmp_path / 'victim'
    victim.mkdir()
    (victim / 'precious.txt').write_text('keep me')
    work = tmp_path / 'work'
    work.mkdir()
    os.symlink(victim, work / 'link')
    for best in (str(victim), str(work / 'link'), str(work / '..' / 'victim'),
                 str(work)):
        path = crafted_resume_checkpoint(
            tmp_path, dict(best_ckpt=best, best_score=0.0))
        runner = build_runner(
            work, [1, 5], 2, resume=True, load_from=path)
        runner.train()  # epoch 2 is better: the "previous best" is removed
        assert (victim / 'precious.txt').read_text() == 'keep me'
        assert work.is_dir()
        assert any(f'dropped the runtime info best_ckpt={best!r}' in message
                   for message in warnings_logged)
        assert runner.message_hub.get_info('best_ckpt') == osp.join(
            str(work), 'best_score_epoch_2.pth')


def test_resumed_keep_ckpt_ids_must_be_steps(tmp_path, warnings_logged):
    victim = tmp_path / 'epoch_x.pth'
    victim.write_text('keep me')
    path = crafted_resume_checkpoint(
        tmp_path, dict(keep_ckpt_ids=['../epoch_x', 1, 2, 3]))
    work = tmp_path / 'work'
    build_runner(
        work, [1], 2, resume=True, load_from=path,
        hook=dict(save_best=None, max_keep_ckpts=1)).train()
    assert victim.read_text() == 'keep me'
    assert any('dropped the runtime info keep_ckpt_ids' in message
               for message in warnings_logged)


def test_resumed_meta_config_is_not_executed(tmp_path, warnings_logged):
    marker = tmp_path / 'ran'
    code = f"x = [__import__('pathlib').Path({str(marker)!r}).touch()]\n"
    path = crafted_resume_checkpoint(tmp_path, {}, meta=dict(config=code))
    build_runner(
        tmp_path / 'work', [1, 1], 2, resume=True, load_from=path).train()
    assert not marker.exists()
    assert any("dropped meta['config']" in message
               for message in warnings_logged)


def test_temporary_files_of_a_killed_run_are_removed(tmp_path):
    build_runner(tmp_path, [1], 1, hook=dict(save_best=None)).train()
    leftover = tmp_path / f'{TEMP_PREFIX}epoch_2.pth-abc123'
    leftover.write_bytes(b'partial')
    build_runner(
        tmp_path, [1], 2, resume=True, hook=dict(save_best=None)).train()
    assert pth_files(tmp_path) == ['epoch_1.pth', 'epoch_2.pth']
