import os.path as osp
import sys

import pytest

from mmvireid.testing import make_synthetic_vireid

# The analysis tools import their shared helpers as ``tool_utils`` from
# their own folder, which Python puts first on sys.path when a tool runs as
# a script; the tests import the tools as modules.
sys.path.insert(
    0,
    osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
             'tools', 'analysis_tools'))


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
