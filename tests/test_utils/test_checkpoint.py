import copy
import datetime
import os
import pickle
import traceback

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision
from mmengine.logging import MessageHub
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint
from torch.utils.data import Dataset

from mmvireid.utils.checkpoint import (install_checkpoint_policy,
                                       load_from_http_safe,
                                       load_from_local_safe)
from mmvireid.utils.checkpoint_globals import (TRUSTED_GLOBALS_ENV,
                                               trust_checkpoint_globals)


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=((out - torch.stack(labels))**2).mean())
        return out


class ToyDataset(Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __init__(self):
        self.inputs = torch.arange(16, dtype=torch.float32).view(8, 2) / 16
        self.labels = self.inputs.sum(1, keepdim=True)

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        return dict(inputs=self.inputs[index], labels=self.labels[index])


def build_runner(work_dir, name, **kwargs):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            num_workers=0),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmengine',
        log_level='WARNING',
        **kwargs)


class Payload:
    """Pickles as ``func(*args)``, the way a malicious checkpoint would."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.fixture
def restore_safe_globals():
    saved = torch.serialization.get_safe_globals()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A real MMEngine checkpoint after two epochs, and the runner's state."""
    work_dir = tmp_path_factory.mktemp('run')
    runner = build_runner(work_dir, 'ckpt_trained')
    runner.train()
    return dict(
        work_dir=work_dir,
        path=work_dir / 'epoch_2.pth',
        runtime_info={
            key: runner.message_hub.get_info(key)
            for key in ('epoch', 'iter', 'max_iters', 'eta')
        },
        log_scalars={
            key: tuple(np.copy(a) for a in buf.data)
            for key, buf in runner.message_hub.log_scalars.items()
        },
        momentum=[
            s['momentum_buffer'].clone()
            for s in runner.optim_wrapper.optimizer.state_dict()
            ['state'].values()
        ],
        lr=runner.optim_wrapper.get_lr()['lr'],
        weight=runner.model.linear.weight.detach().clone())


def test_mmengine_alone_refuses_resume_checkpoint(trained,
                                                  restore_safe_globals):
    # the premise: without the allow-list, MMEngine's own local loader fails
    # on a resume checkpoint under torch's default weights_only=True
    torch.serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError, match='Weights only load'):
        mmengine_checkpoint.load_from_local(str(trained['path']), None)


def test_allow_list_covers_runner_checkpoint(trained):
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
        str(trained['path']))
    assert unsafe == []


def test_load_before_any_history_buffer_exists(trained, monkeypatch):
    # a fresh resuming process has registered no statistics methods yet
    monkeypatch.setattr(HistoryBuffer, '_statistics_methods', {})
    install_checkpoint_policy()
    hub = _load_checkpoint(str(trained['path']))['message_hub']
    assert hub['log_scalars']['train/loss'].mean() == pytest.approx(
        trained['log_scalars']['train/loss'][0].mean())


def test_runner_resume(trained, monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    runner = build_runner(
        trained['work_dir'],
        'ckpt_resumed',
        resume=True,
        load_from=str(trained['path']))
    runner.train()  # max_epochs=2 is reached: resumes, trains no more

    assert (runner.epoch, runner.iter) == (2, 4)  # 2 epochs of 8 items / 4
    hub = runner.message_hub
    assert set(hub.log_scalars) == set(trained['log_scalars'])
    for key, (logs, counts) in trained['log_scalars'].items():
        np.testing.assert_array_equal(hub.log_scalars[key].data[0], logs)
        np.testing.assert_array_equal(hub.log_scalars[key].data[1], counts)
    assert len(hub.log_scalars['train/loss'].data[0]) == 4
    assert hub.get_scalar('train/loss').statistics('mean') == pytest.approx(
        trained['log_scalars']['train/loss'][0].mean())

    state = runner.optim_wrapper.optimizer.state_dict()['state']
    assert len(state) == len(trained['momentum']) == 2
    for resumed, saved in zip(state.values(), trained['momentum']):
        torch.testing.assert_close(resumed['momentum_buffer'], saved)
    # MultiStepLR's milestone 1 cut lr 0.1 -> 0.01 after the first epoch
    assert runner.optim_wrapper.get_lr()['lr'] == trained['lr']
    assert trained['lr'] == pytest.approx([0.01])
    torch.testing.assert_close(runner.model.linear.weight.detach(),
                               trained['weight'])


def test_runner_resume_method(trained):
    runner = build_runner(trained['work_dir'], 'ckpt_resume_method')
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.resume(str(trained['path']))
    assert (runner.train_loop.epoch, runner.train_loop.iter) == (2, 4)
    for key, value in trained['runtime_info'].items():
        assert type(runner.message_hub.get_info(key)) is type(value)
        assert runner.message_hub.get_info(key) == value
    assert isinstance(trained['runtime_info']['eta'], np.float64)
    for resumed, saved in zip(
            runner.optim_wrapper.optimizer.state_dict()['state'].values(),
            trained['momentum']):
        torch.testing.assert_close(resumed['momentum_buffer'], saved)


def test_numpy_values_a_message_hub_holds(tmp_path):
    hub = MessageHub('ckpt_numpy_values')
    hub.update_info('f64', np.float64(0.25))
    hub.update_info('f32', np.float32(1.5))
    hub.update_info('i64', np.int64(7))
    hub.update_info('i32', np.int32(-3))
    hub.update_info('flag', np.bool_(True))
    hub.update_info('counts', np.array([1, 2, 3], dtype=np.int32))
    hub.update_info('scores', np.array([0.5, 0.75], dtype=np.float32))
    hub.update_scalar('loss', 2.0)
    hub.update_scalar('loss', 4.0)
    path = tmp_path / 'hub.pth'
    torch.save(dict(message_hub=hub.state_dict()), path)

    info = _load_checkpoint(str(path))['message_hub']['runtime_info']
    expected = dict(
        f64=np.float64(0.25),
        f32=np.float32(1.5),
        i64=np.int64(7),
        i32=np.int32(-3),
        flag=np.bool_(True))
    for key, value in expected.items():
        assert type(info[key]) is type(value) and info[key] == value
    assert info['counts'].dtype == np.int32
    assert info['counts'].tolist() == [1, 2, 3]
    assert info['scores'].dtype == np.float32
    assert info['scores'].tolist() == [0.5, 0.75]
    loss = _load_checkpoint(str(path))['message_hub']['log_scalars']['loss']
    assert loss.mean() == 3.0 and loss.max() == 4.0


def test_numpy1_checkpoint(tmp_path):
    # numpy < 2 pickles arrays through numpy.core.multiarray
    path = tmp_path / 'numpy1.pth'
    torch.save(
        dict(a=np.arange(3), s=np.float64(2.5)),
        path,
        _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    assert data.count(b'numpy._core.multiarray\n') == 2
    path.write_bytes(
        data.replace(b'numpy._core.multiarray\n', b'numpy.core.multiarray\n'))
    checkpoint = _load_checkpoint(str(path))
    assert checkpoint['a'].tolist() == [0, 1, 2]
    assert checkpoint['s'] == 2.5


@pytest.mark.parametrize('serialization', ['zip', 'legacy'])
@pytest.mark.parametrize(
    'make_payload, global_name',
    [(lambda marker: Payload(os.system, f'touch {marker}'), 'posix.system'),
     (lambda marker: Payload(open, str(marker), 'w'), 'io.open')])
def test_foreign_global_is_refused(tmp_path, make_payload, global_name,
                                   serialization):
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(state_dict=dict(w=torch.zeros(1)), meta=make_payload(marker)),
        path,
        _use_new_zipfile_serialization=serialization == 'zip')

    for load in (lambda: _load_checkpoint(str(path)),
                 lambda: load_checkpoint(nn.Linear(1, 1), str(path))):
        with pytest.raises(pickle.UnpicklingError) as info:
            load()
        message = str(info.value)
        assert repr(str(path)) in message
        assert f'allow-list of mmvireid.utils.checkpoint: {global_name}.' \
            in message
        assert 'arbitrary code' in message
        # both run code or write files: no opt-in is offered, and nothing
        # advises unrestricted loading
        assert f'{global_name} can never be allowed' in message
        assert TRUSTED_GLOBALS_ENV not in message
        assert 'weights_only=False' not in message
        # nor does the traceback: torch's own error is not chained
        assert 'set to `False`' not in ''.join(
            traceback.format_exception(info.value))
        assert not marker.exists()


def test_foreign_global_payload_is_live(tmp_path):
    # control for the test above: unrestricted loading runs the payload
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=Payload(open, str(marker), 'w')), path)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_refusal_suggests_trusting_the_global(tmp_path):
    path = tmp_path / 'dated.pth'
    torch.save(dict(meta=dict(time=datetime.datetime(2020, 1, 2))), path)
    with pytest.raises(pickle.UnpicklingError) as info:
        _load_checkpoint(str(path))
    assert "trust_checkpoint_globals(['datetime.datetime'])" in str(
        info.value)


@pytest.mark.parametrize('owner, name', [
    (HistoryBuffer, '__subclasses__'),
    (HistoryBuffer, '__init__'),
    (HistoryBuffer, 'register_statistics'),
    (HistoryBuffer, 'update'),
    (np.ndarray, 'tofile'),
])
def test_getattr_beyond_statistics_is_refused(tmp_path, owner, name):
    path = tmp_path / 'getattr.pth'
    torch.save(dict(meta=Payload(getattr, owner, name)), path)
    with pytest.raises(
            pickle.UnpicklingError,
            match=rf"builtins\.getattr\(.*'{name}'\), but a checkpoint"):
        _load_checkpoint(str(path))


def test_getattr_statistics_method_loads(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save(dict(meta=Payload(getattr, HistoryBuffer, 'mean')), path)
    assert _load_checkpoint(str(path))['meta'] is HistoryBuffer.mean


def test_trust_checkpoint_globals(tmp_path, restore_safe_globals):
    path = tmp_path / 'dated.pth'
    torch.save(dict(meta=dict(time=datetime.datetime(2020, 1, 2))), path)
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(str(path))
    trust_checkpoint_globals(['datetime.datetime'])
    checkpoint = _load_checkpoint(str(path))
    assert checkpoint['meta']['time'] == datetime.datetime(2020, 1, 2)


@pytest.mark.parametrize('names, match', [
    (['builtins.getattr'], 'builtins.getattr runs code'),
    (['posix.system'], "'posix.system' can never be trusted"),
    (['no_such_module.Thing'], "cannot import 'no_such_module.Thing'"),
    (['datetime.no_such_class'], "cannot import 'datetime.no_such_class'"),
    ('datetime.datetime', 'must be a list'),
    # a refused name refuses the whole list
    (['datetime.datetime', 'builtins.eval'], "'builtins.eval' can never"),
])
def test_trust_checkpoint_globals_rejects(names, match, restore_safe_globals):
    before = set(torch.serialization.get_safe_globals())
    with pytest.raises((ValueError, TypeError), match=match):
        trust_checkpoint_globals(names)
    assert set(torch.serialization.get_safe_globals()) == before


def test_trusted_globals_env(tmp_path, monkeypatch, restore_safe_globals):
    path = tmp_path / 'dated.pth'
    torch.save(dict(meta=dict(time=datetime.datetime(2020, 1, 2))), path)
    with pytest.raises(pickle.UnpicklingError, match='datetime.datetime'):
        _load_checkpoint(str(path))
    monkeypatch.setenv(TRUSTED_GLOBALS_ENV, ' collections.OrderedDict, '
                       'datetime.datetime')
    checkpoint = _load_checkpoint(str(path))
    assert checkpoint['meta']['time'] == datetime.datetime(2020, 1, 2)
    # a name that cannot be trusted stops the load with the variable's name
    monkeypatch.setenv(TRUSTED_GLOBALS_ENV, 'posix.system')
    with pytest.raises(ValueError,
                       match=f"{TRUSTED_GLOBALS_ENV}: .*can never be"):
        _load_checkpoint(str(path))


@pytest.mark.parametrize('serialization', ['zip', 'legacy'])
def test_plain_state_dict_loads(tmp_path, serialization):
    torch.manual_seed(0)
    source = torchvision.models.mobilenet_v3_small(num_classes=4)
    path = tmp_path / 'mobilenet.pth'
    torch.save(
        source.state_dict(),
        path,
        _use_new_zipfile_serialization=serialization == 'zip')
    target = torchvision.models.mobilenet_v3_small(num_classes=4)
    fresh = copy.deepcopy(target)
    load_checkpoint(target, str(path), map_location='cpu', strict=True)
    loaded = target.state_dict()
    assert all(
        torch.equal(loaded[key], value)
        for key, value in source.state_dict().items())
    assert not torch.equal(loaded['classifier.3.weight'],
                           fresh.state_dict()['classifier.3.weight'])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth can not be found'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))


def test_install_is_idempotent():
    before = torch.serialization.get_safe_globals()
    schemes = dict(mmengine_checkpoint.CheckpointLoader._schemes)
    install_checkpoint_policy()
    install_checkpoint_policy()
    assert set(torch.serialization.get_safe_globals()) == set(before)
    assert dict(mmengine_checkpoint.CheckpointLoader._schemes) == schemes
    loader = mmengine_checkpoint.CheckpointLoader._get_checkpoint_loader
    assert loader('work_dirs/epoch_1.pth') is load_from_local_safe
    assert loader('https://x/y.pth') is load_from_http_safe
