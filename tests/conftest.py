import pytest
from mmengine.registry import DefaultScope

from mmvireid.testing import make_synthetic_vireid
from mmvireid.utils import register_all_modules


@pytest.fixture(autouse=True, scope='session')
def _register_modules():
    register_all_modules(init_default_scope=False)


@pytest.fixture(autouse=True)
def _mmvireid_scope():
    """Every test builds with the mmvireid scope, whatever an earlier test's
    Runner set as the current default scope."""
    with DefaultScope.overwrite_default_scope('mmvireid'):
        yield


# Synthetic trees in the official layouts, written once a session and read
# by the loader tests (tests/test_datasets) and the writer tests
# (tests/test_testing).


@pytest.fixture(scope='session')
def sysu_root(tmp_path_factory):
    """The default SYSU-MM01-layout tree (32 train ids, 32 test ids)."""
    return make_synthetic_vireid(
        str(tmp_path_factory.mktemp('synthetic')), 'sysu', seed=0)


@pytest.fixture(scope='session')
def regdb_root(tmp_path_factory):
    """A small RegDB-layout tree: 6 train ids and 4 test ids per trial."""
    return make_synthetic_vireid(
        str(tmp_path_factory.mktemp('synthetic')),
        'regdb',
        seed=0,
        num_train_ids=6,
        num_test_ids=4,
        img_size=(64, 32))


@pytest.fixture(scope='session')
def llcm_root(tmp_path_factory):
    """A small LLCM-layout tree: 6 train ids, 6 test ids."""
    return make_synthetic_vireid(
        str(tmp_path_factory.mktemp('synthetic')),
        'llcm',
        seed=0,
        num_train_ids=6,
        num_test_ids=6,
        num_imgs_per_cam=2,
        img_size=(64, 32))
