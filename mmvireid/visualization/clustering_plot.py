"""Plot of the clustering statistics over an unsupervised training run."""
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

#: Curves of the left panel (counts) and the right panel (ARI): key, label
#: and style. One colour per modality in both panels (RGB blue, IR orange,
#: both green); outliers dashed.
COUNT_CURVES = (('num_clusters_rgb', 'RGB clusters', 'C0', '-'),
                ('num_clusters_ir', 'IR clusters', 'C1', '-'),
                ('matched_pairs', 'matched pairs', 'C2', ':'),
                ('outliers_rgb', 'RGB outliers', 'C0', '--'),
                ('outliers_ir', 'IR outliers', 'C1', '--'))
ARI_CURVES = (('ari', 'joint (IR via association)', 'C2', '-'),
              ('ari_rgb', 'RGB', 'C0', '-'), ('ari_ir', 'IR', 'C1', '-'))


def plot_clustering_history(history: Sequence[Dict[str, float]],
                            out_file: str,
                            title: str = '',
                            dpi: int = 120) -> str:
    """Clusters, outliers, matched pairs and ARI against the epoch, to PNG.

    Left panel: clusters and outliers per modality and matched RGB-IR
    pairs; right panel (only when the history has ARI values, i.e. the
    training set has true ids): adjusted Rand index of the pseudo-labels,
    joint and per modality. Missing values of an epoch are left out of its
    curve.

    Args:
        history (Sequence[dict]): One record per clustering, each with
            ``epoch`` and the statistics logged by ``ClusteringHook``
            (``num_clusters_rgb``, ``outliers_ir``, ``ari``, ...).
        out_file (str): Output image path; missing folders are created.
        title (str): Figure title. Defaults to ``''``.
        dpi (int): Resolution. Defaults to 120.

    Returns:
        str: ``out_file``.

    Example:
        >>> plot_clustering_history(
        ...     [dict(epoch=0, num_clusters_rgb=18, ari=0.04),
        ...      dict(epoch=1, num_clusters_rgb=25, ari=0.11)],
        ...     'work_dirs/run/clustering_stats.png')
    """
    fig = clustering_figure(history, title)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=dpi)
    return out_file


def clustering_figure(history: Sequence[Dict[str, float]],
                      title: str = ''):
    """The figure of :func:`plot_clustering_history` (a matplotlib
    ``Figure`` on the Agg canvas; one line per curve, labelled)."""
    # The object-oriented API with the Agg canvas: no pyplot global state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not history:
        raise ValueError('plot_clustering_history: the history is empty '
                         '(no clustering ran)')
    missing = [i for i, record in enumerate(history) if 'epoch' not in record]
    if missing:
        raise ValueError('plot_clustering_history: records '
                         f'{missing} have no "epoch"')
    has_ari = any(curve[0] in record for record in history
                  for curve in ARI_CURVES)
    fig = Figure(figsize=(10 if has_ari else 5.5, 4))
    FigureCanvasAgg(fig)
    panels = [(fig.add_subplot(1, 1 + has_ari, 1), COUNT_CURVES, 'images / '
               'clusters')]
    if has_ari:
        panels.append((fig.add_subplot(1, 2, 2), ARI_CURVES,
                       'adjusted Rand index vs true ids'))
    for ax, curves, ylabel in panels:
        for key, label, color, linestyle in curves:
            epochs, values = _curve(history, key)
            if len(epochs):
                ax.plot(epochs, values, color=color, linestyle=linestyle,
                        marker='o', markersize=3, label=label)
        ax.set_xlabel('epoch')
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize='small')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _curve(history: Sequence[Dict[str, float]],
           key: str) -> List[np.ndarray]:
    """Epochs and values of the records that hold ``key``."""
    points = [(record['epoch'], record[key]) for record in history
              if key in record]
    return [np.array([p[i] for p in points]) for i in (0, 1)]
