"""The configs' move into dataset bases changed no resolved value.

The preprocessor moved from the model bases to the dataset bases (the
top-level ``data_preprocessor`` the Runner hands to the model, mmpretrain's
convention), the unsupervised loader, sampler and ClusteringHook into one
base per dataset (``configs/_base_/datasets/*_unsup.py``). Every config must
resolve as it did at commit :data:`BEFORE`, the last one before the move,
except for the preprocessor's place. ``default_runtime.py`` is not part of
the move: the configs of both commits are resolved with today's.
"""
import glob
import os
import os.path as osp
import shutil
import subprocess

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BEFORE = '5fcdb27'
#: Method folders added after the move (their configs have no BEFORE).
ADDED_AFTER = ('configs/adca/', 'configs/pgm/')
CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in p and not osp.relpath(p, REPO).startswith(ADDED_AFTER))
RUNTIME = osp.join('configs', '_base_', 'default_runtime.py')


def git(*args) -> bytes:
    return subprocess.run(['git', '-C', REPO, *args],
                          capture_output=True,
                          check=True).stdout


def resolved(path) -> dict:
    return Config.fromfile(path).to_dict()


def flatten(cfg, prefix=''):
    """``{'a.b.0.c': value}`` for nested dicts and lists."""
    if isinstance(cfg, dict):
        items = cfg.items()
    elif isinstance(cfg, (list, tuple)) and any(
            isinstance(v, (dict, list, tuple)) for v in cfg):
        items = enumerate(cfg)
    else:
        return {prefix[:-1]: cfg}
    out = {}
    for key, value in items:
        out.update(flatten(value, f'{prefix}{key}.'))
    return out


@pytest.fixture(scope='module')
def before(tmp_path_factory):
    """Every config of :data:`BEFORE`, resolved, by path."""
    try:
        files = git('ls-tree', '-r', '--name-only', BEFORE,
                    'configs').decode().split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f'commit {BEFORE} is not in the git history here')
    root = str(tmp_path_factory.mktemp('before'))
    for name in files:
        os.makedirs(osp.dirname(osp.join(root, name)), exist_ok=True)
        with open(osp.join(root, name), 'wb') as f:
            f.write(git('show', f'{BEFORE}:{name}'))
    shutil.copyfile(osp.join(REPO, RUNTIME), osp.join(root, RUNTIME))
    return {
        name: resolved(osp.join(root, name))
        for name in files if name.endswith('.py') and '_base_' not in name
    }


def test_no_config_came_or_went(before):
    assert sorted(before) == CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_only_the_preprocessor_moved(name, before):
    old, new = before[name], resolved(osp.join(REPO, name))
    moved = old['model'].pop('data_preprocessor')
    assert 'data_preprocessor' not in new['model']
    # The type is left to the model (mmpretrain's convention); VIReID's
    # default is the type the model bases named (test_all_configs.py
    # builds it).
    assert moved.pop('type') == 'VIReIDDataPreprocessor'
    assert new['model']['type'] == 'VIReID'
    assert new.pop('data_preprocessor') == moved
    assert flatten(new) == flatten(old)
