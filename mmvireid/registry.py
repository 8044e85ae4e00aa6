"""Registries of mmvireid, children of mmpretrain's.

Every registry here has mmpretrain's registry of the same role as parent, so a
config that runs with ``default_scope='mmvireid'`` can name mmvireid modules
(``type='TwoStreamResNet'``) and any mmpretrain / mmcv / MMEngine module
(``type='ResNet'``, ``type='LoadImageFromFile'``) plainly: a lookup walks up to
the parents, never to siblings (see ``shared/docs/stack.md``, trap 5).
"""
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
    'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS'
]


def _child(name, parent, location):
    return Registry(name, parent=parent, scope='mmvireid', locations=[location])


RUNNERS = _child('runner', MMPRETRAIN_RUNNERS, 'mmvireid.engine')
RUNNER_CONSTRUCTORS = _child('runner constructor',
                             MMPRETRAIN_RUNNER_CONSTRUCTORS, 'mmvireid.engine')
LOOPS = _child('loop', MMPRETRAIN_LOOPS, 'mmvireid.engine')
HOOKS = _child('hook', MMPRETRAIN_HOOKS, 'mmvireid.engine')
LOG_PROCESSORS = _child('log processor', MMPRETRAIN_LOG_PROCESSORS,
                        'mmvireid.engine')
OPTIMIZERS = _child('optimizer', MMPRETRAIN_OPTIMIZERS, 'mmvireid.engine')
OPTIM_WRAPPERS = _child('optim wrapper', MMPRETRAIN_OPTIM_WRAPPERS,
                        'mmvireid.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'mmvireid.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMPRETRAIN_PARAM_SCHEDULERS,
                          'mmvireid.engine')
DATASETS = _child('dataset', MMPRETRAIN_DATASETS, 'mmvireid.datasets')
DATA_SAMPLERS = _child('data sampler', MMPRETRAIN_DATA_SAMPLERS,
                       'mmvireid.datasets')
TRANSFORMS = _child('transform', MMPRETRAIN_TRANSFORMS, 'mmvireid.datasets')
MODELS = _child('model', MMPRETRAIN_MODELS, 'mmvireid.models')
MODEL_WRAPPERS = _child('model_wrapper', MMPRETRAIN_MODEL_WRAPPERS,
                        'mmvireid.models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMPRETRAIN_WEIGHT_INITIALIZERS, 'mmvireid.models')
TASK_UTILS = _child('task util', MMPRETRAIN_TASK_UTILS, 'mmvireid.models')
METRICS = _child('metric', MMPRETRAIN_METRICS, 'mmvireid.evaluation')
EVALUATORS = _child('evaluator', MMPRETRAIN_EVALUATORS, 'mmvireid.evaluation')
VISUALIZERS = _child('visualizer', MMPRETRAIN_VISUALIZERS,
                     'mmvireid.visualization')
VISBACKENDS = _child('vis_backend', MMPRETRAIN_VISBACKENDS,
                     'mmvireid.visualization')
