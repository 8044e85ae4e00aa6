import pytest

from mmvireid.utils import register_all_modules


@pytest.fixture(autouse=True, scope='session')
def _register_modules():
    """Every test builds from configs with the mmvireid scope."""
    register_all_modules(init_default_scope=True)
