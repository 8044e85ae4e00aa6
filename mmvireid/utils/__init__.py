from .checkpoint import install_checkpoint_policy, load_checkpoint_file
from .checkpoint_globals import trust_checkpoint_globals
from .launch import (explain_collective_timeout, setup_cpu_distributed,
                     teardown_distributed)
from .setup_env import register_all_modules
from .work_dir import (checkpoint_files, find_resume_checkpoint,
                       is_complete_checkpoint)

__all__ = [
    'register_all_modules', 'install_checkpoint_policy',
    'load_checkpoint_file', 'trust_checkpoint_globals',
    'setup_cpu_distributed', 'teardown_distributed',
    'explain_collective_timeout', 'checkpoint_files',
    'find_resume_checkpoint', 'is_complete_checkpoint'
]
