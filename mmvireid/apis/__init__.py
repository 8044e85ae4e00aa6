"""Running a trained model: building it, the features of images, feature
extraction over data loaders, feature files, weights.

Importing this package installs mmvireid's checkpoint policy (checkpoints
load with ``weights_only=True`` through an allow-list of MMEngine's
globals), so every path here that reads a checkpoint is covered.
"""
from mmvireid.utils import install_checkpoint_policy
from .feature_extraction import extract_features
from .features_io import load_features, save_features
from .inference import inference_model, init_model, prepare_batch
from .model import load_weights

install_checkpoint_policy()

__all__ = [
    'extract_features', 'load_features', 'save_features', 'load_weights',
    'init_model', 'inference_model', 'prepare_batch'
]
