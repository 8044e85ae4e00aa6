# Importing mmvireid installs its checkpoint policy: torch.load stays
# weights_only=True and MMEngine checkpoints load through an allow-list
# (mmvireid/utils/checkpoint.py).
from .utils import checkpoint  # noqa: F401
from .version import __version__

__all__ = ['__version__']
