"""Registries of mmvireid, children of mmpretrain's.

Every registry here has mmpretrain's registry of the same role as parent, so a
config that runs with ``default_scope='mmvireid'`` can name mmvireid modules
(``type='TwoStreamResNet'``) and any mmpretrain / mmcv / MMEngine module
(``type='ResNet'``, ``type='LoadImageFromFile'``) plainly. A lookup walks up to
the parents, never to siblings: a registry parented on MMEngine's root instead
would not find mmpretrain's modules without a ``mmpretrain.`` prefix.

Each registry imports its modules on its first lookup (MMEngine's
``locations``): mmpretrain's package of the same role, then mmvireid's. A
parent's modules must be imported by the child, because MMEngine's
``Registry.get`` imports only the locations of the registry it is called on
before reading the parents' tables. So a fresh interpreter needs no
``register_all_modules()``::

    from mmvireid.registry import MODELS
    MODELS.build(dict(type='ResNet', depth=18))        # mmpretrain's
    MODELS.build(dict(type='TwoStreamResNet', ...))   # mmvireid's

and mmpretrain's registries and tools find mmvireid's modules through the
scope: ``mmpretrain.registry.MODELS.build(dict(type='TwoStreamResNet',
_scope_='mmvireid', ...))``, or ``default_scope='mmvireid'`` in a config.
"""
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry
from mmpretrain.registry import DATA_SAMPLERS as MMPRETRAIN_DATA_SAMPLERS
from mmpretrain.registry import DATASETS as MMPRETRAIN_DATASETS
from mmpretrain.registry import EVALUATORS as MMPRETRAIN_EVALUATORS
from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
from mmpretrain.registry import LOG_PROCESSORS as MMPRETRAIN_LOG_PROCESSORS
from mmpretrain.registry import LOOPS as MMPRETRAIN_LOOPS
from mmpretrain.registry import METRICS as MMPRETRAIN_METRICS
from mmpretrain.registry import MODEL_WRAPPERS as MMPRETRAIN_MODEL_WRAPPERS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import OPTIM_WRAPPERS as MMPRETRAIN_OPTIM_WRAPPERS
from mmpretrain.registry import OPTIMIZERS as MMPRETRAIN_OPTIMIZERS
from mmpretrain.registry import PARAM_SCHEDULERS as MMPRETRAIN_PARAM_SCHEDULERS
from mmpretrain.registry import \
    RUNNER_CONSTRUCTORS as MMPRETRAIN_RUNNER_CONSTRUCTORS
from mmpretrain.registry import RUNNERS as MMPRETRAIN_RUNNERS
from mmpretrain.registry import TASK_UTILS as MMPRETRAIN_TASK_UTILS
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmpretrain.registry import VISBACKENDS as MMPRETRAIN_VISBACKENDS
from mmpretrain.registry import VISUALIZERS as MMPRETRAIN_VISUALIZERS
from mmpretrain.registry import \
    WEIGHT_INITIALIZERS as MMPRETRAIN_WEIGHT_INITIALIZERS

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'METRICS',
    'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS'
]


def _child(name: str, parent: Registry, package: str) -> Registry:
    """mmvireid's registry ``name`` under mmpretrain's ``parent``; its first
    lookup imports ``mmpretrain.<package>`` (which imports the MMEngine / mmcv
    modules it builds on), then ``mmvireid.<package>``."""
    return Registry(
        name,
        parent=parent,
        scope='mmvireid',
        locations=[f'mmpretrain.{package}', f'mmvireid.{package}'])


RUNNERS = _child('runner', MMPRETRAIN_RUNNERS, 'engine')
RUNNER_CONSTRUCTORS = _child('runner constructor',
                             MMPRETRAIN_RUNNER_CONSTRUCTORS, 'engine')
LOOPS = _child('loop', MMPRETRAIN_LOOPS, 'engine')
HOOKS = _child('hook', MMPRETRAIN_HOOKS, 'engine')
LOG_PROCESSORS = _child('log processor', MMPRETRAIN_LOG_PROCESSORS, 'engine')
OPTIMIZERS = _child('optimizer', MMPRETRAIN_OPTIMIZERS, 'engine')
OPTIM_WRAPPERS = _child('optim wrapper', MMPRETRAIN_OPTIM_WRAPPERS, 'engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMPRETRAIN_PARAM_SCHEDULERS,
                          'engine')
DATASETS = _child('dataset', MMPRETRAIN_DATASETS, 'datasets')
DATA_SAMPLERS = _child('data sampler', MMPRETRAIN_DATA_SAMPLERS, 'datasets')
TRANSFORMS = _child('transform', MMPRETRAIN_TRANSFORMS, 'datasets')
MODELS = _child('model', MMPRETRAIN_MODELS, 'models')
MODEL_WRAPPERS = _child('model_wrapper', MMPRETRAIN_MODEL_WRAPPERS, 'models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMPRETRAIN_WEIGHT_INITIALIZERS, 'models')
TASK_UTILS = _child('task util', MMPRETRAIN_TASK_UTILS, 'models')
METRICS = _child('metric', MMPRETRAIN_METRICS, 'evaluation')
EVALUATORS = _child('evaluator', MMPRETRAIN_EVALUATORS, 'evaluation')
VISUALIZERS = _child('visualizer', MMPRETRAIN_VISUALIZERS, 'visualization')
VISBACKENDS = _child('vis_backend', MMPRETRAIN_VISBACKENDS, 'visualization')
# Functions a config names, e.g. a loader's collate_fn. mmpretrain has no
# registry of its own for them, so this one hangs under MMEngine's; MMEngine
# looks collate functions up there without the default scope, so a config
# names them with the scope: collate_fn=dict(type='mmvireid.<name>').
FUNCTIONS = Registry(
    'function',
    parent=MMENGINE_FUNCTIONS,
    scope='mmvireid',
    locations=['mmvireid.datasets'])
