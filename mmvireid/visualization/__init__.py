"""Visualisation of VI-ReID results (registry location of VISUALIZERS)."""
from .feature_extraction import (check_checkpoint, extract_features,
                                 features_from_args, load_matching_checkpoint,
                                 load_tool_config)
from .clustering_plot import plot_clustering_history
from .features_io import load_features, save_features
from .tool_args import add_runner_args, parse_tool_args
from .tsne import plot_embedding, select_ids, tsne_embedding
from .vireid_visualizer import VIReIDVisualizer

__all__ = [
    'VIReIDVisualizer', 'extract_features', 'load_matching_checkpoint',
    'check_checkpoint', 'load_tool_config', 'features_from_args',
    'save_features', 'load_features', 'tsne_embedding', 'plot_embedding',
    'select_ids', 'plot_clustering_history', 'add_runner_args',
    'parse_tool_args'
]
