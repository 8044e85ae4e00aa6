"""Checkpoint files of a work dir: atomic writes, completeness, resume."""
import errno
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from mmvireid.utils import work_dir
from mmvireid.utils.work_dir import (TEMP_PREFIX, AtomicLocalBackend,
                                     checkpoint_files, find_resume_checkpoint,
                                     is_complete_checkpoint, is_inside)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def save(path, value=0.0):
    torch.save(dict(state_dict=dict(w=torch.full((64, ), value))), path)
    return str(path)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def test_is_inside(tmp_path):
    work = tmp_path / 'work'
    (work / 'sub').mkdir(parents=True)
    (tmp_path / 'outside').mkdir()
    os.symlink(tmp_path / 'outside', work / 'link')
    assert is_inside(str(work / 'best.pth'), str(work))
    assert is_inside(str(work / 'sub' / '..' / 'x.pth'), str(work))
    assert not is_inside(str(work), str(work))
    assert not is_inside(str(work / '..' / 'outside'), str(work))
    assert not is_inside(str(work / 'link'), str(work))
    assert not is_inside(str(work / 'link' / 'x.pth'), str(work))
    assert not is_inside('/', str(work))


def test_checkpoint_files(tmp_path):
    assert checkpoint_files(str(tmp_path / 'missing')) == []
    for name in ('epoch_1.pth', 'best_x.pth', 'last_checkpoint', 'log.json'):
        (tmp_path / name).write_text('x')
    (tmp_path / 'dir.pth').mkdir()
    assert [os.path.basename(p) for p in checkpoint_files(str(tmp_path))] \
        == ['best_x.pth', 'epoch_1.pth', 'last_checkpoint']


def test_is_complete_checkpoint(tmp_path):
    good = save(tmp_path / 'good.pth')
    assert is_complete_checkpoint(good)
    truncated = tmp_path / 'truncated.pth'
    shutil.copy(good, truncated)
    truncate(truncated)
    assert not is_complete_checkpoint(str(truncated))
    (tmp_path / 'empty.pth').write_bytes(b'')
    assert not is_complete_checkpoint(str(tmp_path / 'empty.pth'))
    (tmp_path / 'text.pth').write_text('hello')
    assert not is_complete_checkpoint(str(tmp_path / 'text.pth'))
    assert not is_complete_checkpoint(str(tmp_path / 'missing.pth'))


def test_resume_follows_last_checkpoint(tmp_path):
    save(tmp_path / 'epoch_1.pth')
    second = save(tmp_path / 'epoch_2.pth')
    (tmp_path / 'last_checkpoint').write_text(second)
    assert find_resume_checkpoint(str(tmp_path)) == second


@pytest.fixture
def warnings_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(
        work_dir, 'print_log', lambda message, **kwargs: logged.append(
            message))
    return logged


@pytest.mark.parametrize('pointer', ['empty', 'truncated', 'missing'])
def test_resume_falls_back_to_newest_complete(tmp_path, warnings_logged,
                                              pointer):
    save(tmp_path / 'epoch_2.pth')
    second = str(tmp_path / 'epoch_2.pth')
    save(tmp_path / 'epoch_10.pth')
    truncate(tmp_path / 'epoch_10.pth')
    save(tmp_path / 'best_score_epoch_10.pth')  # model only: never resumed
    text = dict(
        empty='',
        truncated=str(tmp_path / 'epoch_10.pth'),
        missing=str(tmp_path / 'epoch_11.pth'))[pointer]
    (tmp_path / 'last_checkpoint').write_text(text)
    assert find_resume_checkpoint(str(tmp_path)) == second
    out = '\n'.join(warnings_logged)
    assert ('is empty' if pointer == 'empty' else 'missing, empty or '
            'truncated') in out
    assert f'Skipping {tmp_path / "epoch_10.pth"}: empty or truncated' in out


def test_resume_without_pointer_and_iteration_names(tmp_path):
    save(tmp_path / 'iter_200.pth')
    save(tmp_path / 'iter_1000.pth')
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path /
                                                        'iter_1000.pth')


def test_nothing_to_resume(tmp_path):
    assert find_resume_checkpoint(str(tmp_path / 'missing')) is None
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    assert find_resume_checkpoint(str(tmp_path)) is None


def test_atomic_put(tmp_path):
    backend = AtomicLocalBackend()
    target = tmp_path / 'sub' / 'x.bin'
    backend.put(b'first', str(target))
    backend.put(b'second', str(target))
    backend.put_text('text', str(tmp_path / 'last_checkpoint'))
    assert target.read_bytes() == b'second'
    # the mode open() would give, not mkstemp's private 0600
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / 'last_checkpoint').read_text() == 'text'
    assert sorted(os.listdir(tmp_path / 'sub')) == ['x.bin']


def test_failed_put_keeps_the_previous_file(tmp_path, monkeypatch):
    backend = AtomicLocalBackend()
    target = tmp_path / 'epoch_1.pth'
    backend.put(b'complete', str(target))

    def full_disk(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full_disk)
    with pytest.raises(OSError, match='No space left'):
        backend.put(b'x' * 1000, str(target))
    assert target.read_bytes() == b'complete'
    assert os.listdir(tmp_path) == ['epoch_1.pth']


FULL_DISK_RUN = '''
import json, os, sys
import torch, torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmvireid.engine.hooks import SafeCheckpointHook
from mmvireid.utils import find_resume_checkpoint, register_all_modules
from mmvireid.utils.work_dir import is_complete_checkpoint

register_all_modules(init_default_scope=False)
work_dir, result = sys.argv[1], sys.argv[2]


class Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(100, 500)  # 200 kB, and as much momentum

    def forward(self, inputs, mode='tensor'):
        return dict(loss=self.linear(torch.stack(inputs)).pow(2).mean())


runner = Runner(
    model=Toy(), work_dir=work_dir,
    train_dataloader=dict(
        dataset=[dict(inputs=torch.ones(100))] * 4,
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2, num_workers=0,
        collate_fn=dict(type='pseudo_collate')),
    train_cfg=dict(by_epoch=True, max_epochs=3),
    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
    default_hooks=dict(checkpoint=SafeCheckpointHook(
        interval=1, max_keep_ckpts=1)),
    default_scope='mmengine', log_level='WARNING')
try:
    runner.train()
    error = None
except OSError as exc:
    error = str(exc)
names = sorted(n for n in os.listdir(work_dir)
               if n.endswith('.pth') or n.startswith(('last', '.tmp')))
with open(os.path.join(work_dir, 'last_checkpoint')) as f:
    last = f.read()
json.dump(dict(
    error=error, names=names, last=last,
    complete={n: is_complete_checkpoint(os.path.join(work_dir, n))
              for n in names if n.endswith('.pth')},
    resume=find_resume_checkpoint(work_dir)), open(result, 'w'))
'''


def test_full_disk_keeps_the_previous_checkpoint(tmp_path):
    """A 700 kB tmpfs holds one 400 kB checkpoint, not two: the second
    write fails with ENOSPC mid-file. The first checkpoint stays complete
    (with max_keep_ckpts=1 it is removed only after its successor is whole),
    no truncated file is left under a checkpoint's name, and a resume
    finds the first."""
    if shutil.which('unshare') is None:
        pytest.skip('needs unshare(1) to mount a private tmpfs')
    mount = tmp_path / 'tmpfs'
    mount.mkdir()
    probe = subprocess.run(
        ['unshare', '-rm', 'mount', '-t', 'tmpfs', 'tmpfs',
         str(mount)],
        capture_output=True,
        text=True)
    if probe.returncode != 0:
        pytest.skip('cannot mount a tmpfs in a user namespace here: '
                    f'{probe.stderr.strip()}')
    script = tmp_path / 'run.py'
    script.write_text(FULL_DISK_RUN)
    result = tmp_path / 'result.json'
    work = mount / 'work'
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    subprocess.run([
        'unshare', '-rm', 'sh', '-c',
        f'mount -t tmpfs -o size=700k tmpfs {mount} && '
        f'{sys.executable} {script} {work} {result}'
    ],
                   check=True,
                   env=env,
                   timeout=300)
    with open(result) as f:
        state = json.load(f)
    assert 'No space left on device' in state['error']
    assert state['names'] == ['epoch_1.pth', 'last_checkpoint']
    assert state['complete'] == {'epoch_1.pth': True}
    assert state['last'] == str(work / 'epoch_1.pth')
    assert state['resume'] == str(work / 'epoch_1.pth')
    assert not any(name.startswith(TEMP_PREFIX) for name in state['names'])
