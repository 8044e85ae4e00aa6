"""Every path that reads a checkpoint goes through one policy: remote
schemes, the opt-in, load errors, explicit installation."""
import functools
import http.server
import os
import pickle
import re
import subprocess
import sys
import threading
import traceback
import zipfile

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmvireid.utils import checkpoint as policy
from mmvireid.utils.checkpoint import install_checkpoint_policy
from mmvireid.utils.checkpoint_globals import (TRUSTED_GLOBALS_ENV,
                                               resolve_global,
                                               trust_checkpoint_globals,
                                               untrustable_reason)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


class Payload:
    """Pickles as ``func(*args)``, the way a malicious checkpoint would."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def write_evil(path, marker):
    """A checkpoint whose unpickling creates ``marker`` (through open)."""
    torch.save(
        dict(
            state_dict=dict(weight=torch.zeros(1, 1), bias=torch.zeros(1)),
            meta=Payload(open, str(marker), 'w')), path)


def write_good(path):
    torch.manual_seed(0)
    source = nn.Linear(1, 1)
    torch.save(dict(state_dict=source.state_dict()), path)
    return source


@pytest.fixture
def restore_safe_globals():
    saved = torch.serialization.get_safe_globals()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """A loopback http server over ``tmp_path/www``; the hub cache in
    ``tmp_path/hub``. Yields (folder, base URL)."""
    root = tmp_path / 'www'
    root.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None)
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_mmengine_http_loader_runs_the_payload(http_root, tmp_path):
    # the premise: MMEngine's own http loader runs a remote payload
    root, url = http_root
    write_evil(root / 'evil.pth', tmp_path / 'ran')
    mmengine_checkpoint.load_from_http(f'{url}/evil.pth')
    assert (tmp_path / 'ran').exists()


def test_http_checkpoint_is_refused(http_root, tmp_path):
    root, url = http_root
    marker = tmp_path / 'ran'
    write_evil(root / 'evil.pth', marker)
    with pytest.raises(pickle.UnpicklingError) as info:
        _load_checkpoint(f'{url}/evil.pth')
    message = str(info.value)
    assert 'io.open' in message and f'{url}/evil.pth' in message
    assert 'weights_only=False' not in message
    assert not marker.exists()
    # downloaded to the hub cache, as MMEngine does, then refused there
    assert torch.hub.get_dir() == str(tmp_path / 'hub' / 'hub')
    assert (tmp_path / 'hub' / 'hub' / 'checkpoints' / 'evil.pth').is_file()


def test_http_init_cfg_pretrained_is_refused(http_root, tmp_path):
    root, url = http_root
    marker = tmp_path / 'ran'
    write_evil(root / 'evil.pth', marker)

    class Model(BaseModule):

        def __init__(self):
            super().__init__(
                init_cfg=dict(type='Pretrained', checkpoint=f'{url}/evil.pth'))
            self.linear = nn.Linear(1, 1)

    with pytest.raises(pickle.UnpicklingError, match='io.open'):
        Model().init_weights()
    assert not marker.exists()


def test_http_checkpoint_loads(http_root):
    root, url = http_root
    source = write_good(root / 'good.pth')
    target = nn.Linear(1, 1)
    mmengine_checkpoint.load_checkpoint(target, f'{url}/good.pth', strict=True)
    torch.testing.assert_close(target.weight, source.weight)


@pytest.mark.parametrize('scheme, zoo', [
    ('torchvision://', 'get_torchvision_models'),
    ('modelzoo://', 'get_torchvision_models'),
    ('open-mmlab://', 'get_external_models'),
    ('mmcls://', 'get_mmcls_models'),
])
def test_model_zoo_schemes_are_refused(http_root, tmp_path, monkeypatch,
                                       scheme, zoo):
    root, url = http_root
    marker = tmp_path / 'ran'
    write_evil(root / 'evil.pth', marker)
    monkeypatch.setattr(mmengine_checkpoint, zoo,
                        lambda: dict(evil=f'{url}/evil.pth'))
    with pytest.raises(pickle.UnpicklingError, match='io.open'):
        _load_checkpoint(f'{scheme}evil')
    assert not marker.exists()
    with pytest.raises(KeyError, match=f'{scheme}nope: unknown model name'):
        _load_checkpoint(f'{scheme}nope')


def test_open_mmlab_local_zoo_entry_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / 'ran'
    write_evil(tmp_path / 'evil.pth', marker)
    monkeypatch.setattr(mmengine_checkpoint, 'get_external_models',
                        lambda: dict(evil='evil.pth'))
    monkeypatch.setattr(mmengine_checkpoint, '_get_mmengine_home',
                        lambda: str(tmp_path))
    with pytest.raises(pickle.UnpicklingError, match='io.open'):
        _load_checkpoint('open-mmlab://evil')
    assert not marker.exists()


@pytest.fixture
def evil_scheme():
    """A plugin's scheme whose loader calls torch.load(weights_only=False)."""

    def load_from_evil(filename, map_location=None):
        return torch.load(
            filename[len('evil://'):],
            map_location=map_location,
            weights_only=False)

    CheckpointLoader.register_scheme('evil://', load_from_evil)
    yield
    del CheckpointLoader._schemes['evil://']


def test_other_registered_schemes_become_weights_only(evil_scheme, tmp_path):
    marker = tmp_path / 'ran'
    write_evil(tmp_path / 'evil.pth', marker)
    install_checkpoint_policy()
    with pytest.raises(pickle.UnpicklingError) as info:
        _load_checkpoint(f'evil://{tmp_path}/evil.pth')
    assert 'io.open' in str(info.value)
    assert not marker.exists()
    assert 'TORCH_FORCE_WEIGHTS_ONLY_LOAD' not in os.environ
    # a benign file still loads through it
    write_good(tmp_path / 'good.pth')
    assert 'state_dict' in _load_checkpoint(f'evil://{tmp_path}/good.pth')


MODULE_WITH_ALIASES = '''
import functools
import os
import subprocess

run_system = functools.partial(os.system, 'true')
system_alias = os.system


class Shell(subprocess.Popen):
    pass


class Record:
    pass
'''


@pytest.fixture
def aliases(tmp_path, monkeypatch):
    (tmp_path / 'ckpt_aliases.py').write_text(MODULE_WITH_ALIASES)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield 'ckpt_aliases'
    sys.modules.pop('ckpt_aliases', None)


@pytest.mark.parametrize('name', [
    'builtins.eval', 'builtins.exec', 'builtins.compile',
    'builtins.__import__', 'builtins.getattr', 'builtins.setattr',
    'builtins.open', 'builtins.type', 'builtins.object', 'os.system',
    'posix.system', 'subprocess.os.system', 'subprocess.Popen',
    'subprocess.run', 'shutil.rmtree', 'shutil.os.remove',
    'importlib.import_module', 'pickle.loads', 'pickle.Unpickler',
    'marshal.loads', 'functools.partial', 'functools.reduce',
    'operator.methodcaller', 'operator.attrgetter', 'io.open', 'io.FileIO',
    'types.FunctionType', 'torch.load', 'numpy.load', 'numpy.memmap',
    'ckpt_aliases.run_system', 'ckpt_aliases.system_alias',
    'ckpt_aliases.Shell', 'ckpt_aliases.functools'
])
def test_opt_in_refuses_code_running_objects(aliases, name,
                                             restore_safe_globals):
    before = set(torch.serialization.get_safe_globals())
    with pytest.raises(ValueError, match=f'{name!r} can never be trusted'):
        trust_checkpoint_globals([name])
    assert set(torch.serialization.get_safe_globals()) == before


@pytest.mark.parametrize('name', [
    'datetime.datetime', 'collections.OrderedDict', 'argparse.Namespace',
    'builtins.bytearray', 'ckpt_aliases.Record'
])
def test_opt_in_accepts_data_classes(aliases, name, restore_safe_globals):
    trust_checkpoint_globals([name])
    assert untrustable_reason(resolve_global(name)) is None


@pytest.mark.parametrize('name, payload', [
    ('builtins.eval', lambda marker: Payload(
        eval, f'open({str(marker)!r}, "w")')),
    ('subprocess.os.system', lambda marker: Payload(
        os.system, f'touch {marker}')),
    ('builtins.exec', lambda marker: Payload(
        exec, f'open({str(marker)!r}, "w")')),
])
def test_env_opt_in_cannot_run_a_payload(tmp_path, monkeypatch, name,
                                         payload, restore_safe_globals):
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=payload(marker)), path)
    monkeypatch.setenv(TRUSTED_GLOBALS_ENV, name)
    with pytest.raises(ValueError, match='can never be trusted'):
        _load_checkpoint(str(path))
    assert not marker.exists()


def test_refusal_never_advises_unrestricted_loading(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=Payload(eval, '1'), other=Payload(os.getcwd)), path)
    with pytest.raises(pickle.UnpicklingError) as info:
        _load_checkpoint(str(path))
    message = str(info.value)
    assert 'builtins.eval' in message and 'posix.getcwd' in message
    assert 'can never be allowed' in message
    assert TRUSTED_GLOBALS_ENV not in message
    shown = ''.join(traceback.format_exception(info.value))
    assert 'weights_only=False' not in shown
    assert 'set to `False`' not in shown  # torch's own advice


def test_unknown_opcode_names_the_file(tmp_path):
    path = tmp_path / 'bytes.pth'
    # protocol 3 writes Python bytes with SHORT_BINBYTES
    torch.save(dict(state_dict={}, blob=b'abc'), path, pickle_protocol=3)
    with pytest.raises(pickle.UnpicklingError) as info:
        _load_checkpoint(str(path))
    message = str(info.value)
    assert repr(str(path)) in message
    assert 'opcode SHORT_BINBYTES (67)' in message
    assert 'weights_only=False' not in message


@pytest.mark.parametrize('serialization', ['zip', 'legacy'])
def test_truncated_checkpoint_names_the_file(tmp_path, serialization):
    path = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(state_dict=dict(w=torch.arange(1000.))),
        path,
        _use_new_zipfile_serialization=serialization == 'zip')
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError) as info:
        _load_checkpoint(str(path))
    assert repr(str(path)) in str(info.value)
    assert 'truncated' in str(info.value)


@pytest.mark.parametrize('content, match', [
    (b'', 'is empty'),
    (b'hello world', 'is not a checkpoint'),
    (b'\xff\xd8\xff\xe0' + bytes(100), 'is not a checkpoint'),
])
def test_not_a_checkpoint_names_the_file(tmp_path, content, match):
    path = tmp_path / 'x.pth'
    path.write_bytes(content)
    with pytest.raises((RuntimeError, pickle.UnpicklingError)) as info:
        _load_checkpoint(str(path))
    assert repr(str(path)) in str(info.value)
    assert match in str(info.value)


def test_complete_zip_member_damage_names_the_file(tmp_path):
    # a zip whose directory is intact but which is not torch's archive
    path = tmp_path / 'other.pth'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('readme.txt', 'not a checkpoint')
    with pytest.raises(RuntimeError) as info:
        _load_checkpoint(str(path))
    assert repr(str(path)) in str(info.value)


def test_policy_is_not_an_import_side_effect():
    code = (
        'import mmvireid, mmvireid.utils, mmvireid.utils.checkpoint\n'
        'from mmengine.runner.checkpoint import CheckpointLoader as C\n'
        'print(C._get_checkpoint_loader("a.pth").__name__)\n'
        'mmvireid.utils.register_all_modules()\n'
        'print(C._get_checkpoint_loader("a.pth").__name__)\n'
        'print(C._get_checkpoint_loader("https://a/b.pth").__name__)\n')
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         env=env,
                         check=True).stdout.split()
    assert out == [
        'load_from_local', 'load_from_local_safe', 'load_from_http_safe'
    ]


@pytest.mark.parametrize('package, version, needed', [
    ('torch', '2.5.1', 'torch >= 2.6.0 (found 2.5.1)'),
    ('numpy', '1.26.4', 'numpy >= 2.0.0 (found 1.26.4)'),
    ('mmengine', '0.11.0', 'mmengine < 0.11.0 (found 0.11.0)'),
])
def test_install_checks_versions(monkeypatch, package, version, needed):
    module = {'torch': torch, 'numpy': policy.np, 'mmengine': policy.mmengine}
    monkeypatch.setattr(module[package], '__version__', version)
    with pytest.raises(
            RuntimeError, match=re.escape(needed) + '.*requirements/'):
        install_checkpoint_policy()
