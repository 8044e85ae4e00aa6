import pytest

from mmvireid.testing import make_synthetic_vireid


@pytest.fixture(scope='session')
def tiny_sysu(tmp_path_factory):
    """A tiny synthetic tree in SYSU-MM01's layout."""
    out = tmp_path_factory.mktemp('tiny_sysu')
    return make_synthetic_vireid(
        str(out),
        'sysu',
        seed=0,
        num_train_ids=6,
        num_test_ids=4,
        num_imgs_per_cam=2,
        img_size=(32, 16))
