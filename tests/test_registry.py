"""mmvireid's registries build every type in a fresh interpreter, without
``register_all_modules()``: ours, mmpretrain's and MMEngine's, through
``mmvireid.registry`` and through ``mmpretrain.registry`` with the
``mmvireid`` scope (MMEngine's registry ``locations``).

A fresh interpreter is the point (an earlier import would register the
modules anyway), so each case runs in a subprocess; both run concurrently.
"""
import json
import os
import subprocess
import sys
import textwrap

import mmengine.registry
import mmpretrain.registry
from mmengine.registry import DefaultScope

import mmvireid.registry
from mmvireid.registry import MODELS

TWO_STREAM = dict(
    type='TwoStreamResNet',
    num_specific_stages=0,
    backbone=dict(type='ResNet', depth=18, out_indices=(3, )))

# Each script prints {name: the class path of what it built} as JSON.
SCRIPTS = {
    'mmvireid.registry':
    f"""
    from mmvireid.registry import HOOKS, MODELS
    built = dict(
        resnet=MODELS.build(dict(type='ResNet', depth=18)),
        two_stream=MODELS.build({TWO_STREAM!r}),
        hook=HOOKS.build(dict(type='CheckpointHook', interval=1)))
    """,
    'mmpretrain.registry':
    f"""
    import sys
    from mmpretrain.registry import HOOKS, MODELS
    assert 'mmvireid' not in sys.modules
    scope = dict(_scope_='mmvireid')
    built = dict(
        two_stream=MODELS.build(dict({TWO_STREAM!r}, **scope)),
        resnet=MODELS.build(dict(type='ResNet', depth=18, **scope)),
        hook=HOOKS.build(dict(type='CheckpointHook', interval=1, **scope)))
    """,
}
FOOTER = """
import json
from mmengine.registry import DefaultScope
assert DefaultScope.get_current_instance() is None
print(json.dumps({k: f'{type(v).__module__}.{type(v).__name__}'
                  for k, v in built.items()}))
"""


def test_fresh_interpreter_builds_every_scope():
    env = dict(os.environ, OMP_NUM_THREADS='1')
    procs = {
        name: subprocess.Popen(
            [sys.executable, '-c', textwrap.dedent(script) + FOOTER],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env)
        for name, script in SCRIPTS.items()
    }
    expected = dict(
        resnet='mmpretrain.models.backbones.resnet.ResNet',
        two_stream='mmvireid.models.backbones.two_stream_resnet.'
        'TwoStreamResNet',
        hook='mmengine.hooks.checkpoint_hook.CheckpointHook')
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, err[-3000:])
        assert json.loads(out.strip().splitlines()[-1]) == expected, name


def test_every_registry_is_a_child_of_mmpretrains():
    """Each registry sits under mmpretrain's registry of the same role and
    first imports mmpretrain's package of that role, then ours (MMEngine's
    ``Registry.get`` imports only the locations of the registry asked)."""
    for name in mmvireid.registry.__all__:
        if name == 'FUNCTIONS':
            continue  # mmpretrain has none: under MMEngine's, below
        ours = getattr(mmvireid.registry, name)
        parent = getattr(mmpretrain.registry, name)
        assert ours.parent is parent and ours.scope == 'mmvireid', name
        package = parent._locations[0].split('.', 1)[1]
        assert ours._locations == [
            f'mmpretrain.{package}', f'mmvireid.{package}'
        ], name
    functions = mmvireid.registry.FUNCTIONS
    assert functions.parent is mmengine.registry.FUNCTIONS
    assert functions.scope == 'mmvireid'
    assert functions._locations == ['mmvireid.datasets']
    # a scoped name reaches the same class as the plain one
    with DefaultScope.overwrite_default_scope('mmvireid'):
        assert MODELS.get('mmpretrain.ResNet') is MODELS.get('ResNet')
