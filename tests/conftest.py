import pytest
from mmengine.registry import DefaultScope

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
