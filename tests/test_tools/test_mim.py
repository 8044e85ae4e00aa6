"""OpenMMLab's ``mim`` on the README's editable install: list, search, train,
test (docs/en/openmmlab.md).

mim 0.3 looks for a package's model index, configs and tools under
``<distribution location>/<package>/.mim`` (``setup.py`` links them there).
A PEP 660 editable install (what ``pip install -e .`` does today) records
the distribution in site-packages, where no ``mmvireid`` folder is, so the
``mim`` console script does not find them; ``python -m mim`` run from the
checkout puts the checkout first on ``sys.path``, where the install's
``mmvireid.egg-info`` makes ``pkg_resources`` place the distribution in the
checkout. These tests run it that way.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
from e2e_utils import REPO, write_tiny_config

pytest.importorskip('mim', reason='openmim is not installed '
                    '(requirements/tests.txt)')


def run_mim(*args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)  # the checkout, as the install records it
    return subprocess.run([sys.executable, '-W', 'ignore', '-m', 'mim', *args],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope='module', autouse=True)
def installed_from_this_checkout():
    proc = subprocess.run(
        [sys.executable, '-W', 'ignore', '-c',
         'import pkg_resources; '
         'print(pkg_resources.get_distribution("mmvireid").location)'],
        cwd=REPO, capture_output=True, text=True)
    location = proc.stdout.strip()
    linked = osp.isfile(osp.join(REPO, 'mmvireid', '.mim', 'model-index.yml'))
    if location != REPO or not linked:
        message = (f'mmvireid is installed from {location or "nowhere"!r}, '
                   f'not from this checkout {REPO!r} (pip install -e .)')
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)


def test_list_and_search():
    listed = run_mim('list')
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert any(line.split()[:1] == ['mmvireid']
               for line in listed.stdout.splitlines())
    found = run_mim('search', 'mmvireid', '--model', 'spcl-id')
    assert found.returncode == 0, found.stderr[-2000:]
    assert 'config id: spcl_id_r50_sysu' in found.stdout
    assert 'config id: agw_r50_sysu' not in found.stdout


@pytest.mark.e2e
def test_train_and_test(tiny_sysu, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_sysu, max_epochs=1)
    work = tmp_path / 'run'
    trained = run_mim('train', 'mmvireid', config, '--gpus', '0',
                      '--work-dir', str(work))
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert 'Training finished successfully' in trained.stdout
    tested = run_mim('test', 'mmvireid', config, '--gpus', '0',
                     '--checkpoint', str(work / 'epoch_1.pth'),
                     '--work-dir', str(tmp_path / 'test'))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert 'Testing finished successfully' in tested.stdout
    assert 'sysu/all/mAP' in tested.stdout
