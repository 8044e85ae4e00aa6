"""Synthetic dataset trees in the official layouts, written once a session."""
import pytest

from mmvireid.datasets.synthetic import make_synthetic_vireid


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
