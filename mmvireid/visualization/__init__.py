"""Pictures of VI-ReID results (registry location of VISUALIZERS)."""
from .clustering_plot import plot_clustering_history
from .grad_cam import grad_cam, overlay_cam
from .tsne import plot_embedding, select_ids, tsne_embedding
from .vireid_visualizer import VIReIDVisualizer, stack_rows

__all__ = [
    'VIReIDVisualizer', 'tsne_embedding', 'plot_embedding', 'select_ids',
    'plot_clustering_history', 'stack_rows', 'grad_cam', 'overlay_cam'
]
