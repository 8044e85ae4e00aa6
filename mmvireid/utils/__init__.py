from .checkpoint import install_checkpoint_policy, trust_checkpoint_globals
from .launch import setup_cpu_distributed, teardown_distributed
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'install_checkpoint_policy',
    'trust_checkpoint_globals', 'setup_cpu_distributed',
    'teardown_distributed'
]
