"""2-D t-SNE picture of features: colour by identity, marker by modality."""
import os
import os.path as osp
from typing import Optional

import numpy as np
from sklearn.manifold import TSNE

from mmvireid.structures import IR, MODALITY_NAMES, RGB

#: Marker of each modality: circles for RGB, triangles for IR.
MARKERS = {RGB: 'o', IR: '^'}


def tsne_embedding(features: np.ndarray,
                   perplexity: float = 30.0,
                   seed: int = 0) -> np.ndarray:
    """scikit-learn's t-SNE of features (PCA initialisation).

    Args:
        features (np.ndarray): Features, shape (N, D); L2-normalised ones
            make Euclidean t-SNE agree with the cosine ranking.
        perplexity (float): t-SNE perplexity, must be below N. Defaults to
            30.
        seed (int): Random state. Defaults to 0.

    Returns:
        np.ndarray: The embedding, shape (N, 2), float32.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError('tsne_embedding: features must be (N, D) with N >= '
                         f'2, got shape {features.shape}')
    if not 0 < perplexity < len(features):
        raise ValueError(f'tsne_embedding: perplexity must be in (0, N) for '
                         f'N = {len(features)} features, got {perplexity}; '
                         'lower --perplexity or select more ids')
    tsne = TSNE(n_components=2,
                perplexity=perplexity,
                init='pca',
                learning_rate='auto',
                random_state=seed)
    return tsne.fit_transform(features).astype(np.float32)


def plot_embedding(embedding: np.ndarray,
                   pid: np.ndarray,
                   modality: np.ndarray,
                   out_file: str,
                   title: str = '',
                   dpi: int = 150) -> str:
    """Scatter plot of a 2-D embedding to a PNG.

    Each identity gets a colour (``tab10`` / ``tab20`` up to 10 / 20 ids,
    ``turbo`` beyond),
    each modality a marker (:data:`MARKERS`: ``o`` RGB, ``^`` IR).

    Args:
        embedding (np.ndarray): Points, shape (N, 2).
        pid (np.ndarray): Identity of every point, shape (N,).
        modality (np.ndarray): :data:`RGB` / :data:`IR` of every point, (N,).
        out_file (str): Output image path; missing folders are created.
        title (str): Figure title. Defaults to ``''``.
        dpi (int): Resolution of the 7 x 7 inch figure. Defaults to 150.

    Returns:
        str: ``out_file``.

    Example:
        >>> emb = tsne_embedding(features, perplexity=20)
        >>> plot_embedding(emb, pid, modality, 'tsne.png', title='SYSU test')
    """
    # The object-oriented API with the Agg canvas: no pyplot global state.
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    embedding, pid = np.asarray(embedding), np.asarray(pid)
    modality = np.asarray(modality)
    if embedding.ndim != 2 or embedding.shape[1] != 2 or pid.shape != (
            len(embedding), ) or modality.shape != pid.shape:
        raise ValueError(
            'plot_embedding: expected embedding (N, 2), pid (N,) and '
            f'modality (N,), got {embedding.shape}, {pid.shape}, '
            f'{modality.shape}')
    unknown = sorted(set(np.unique(modality).tolist()) - set(MARKERS))
    if unknown:
        raise ValueError(f'plot_embedding: modality values {unknown} are not '
                         f'{RGB} (RGB) or {IR} (IR)')
    ids, id_index = np.unique(pid, return_inverse=True)
    if len(ids) <= 20:  # qualitative maps, indexed by integer
        colors = colormaps['tab10' if len(ids) <= 10 else 'tab20'](id_index)
    else:
        colors = colormaps['turbo'](id_index / (len(ids) - 1))

    fig = Figure(figsize=(7, 7))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for value, marker in MARKERS.items():
        sel = modality == value
        ax.scatter(embedding[sel, 0],
                   embedding[sel, 1],
                   c=colors[sel],
                   marker=marker,
                   s=36,
                   edgecolors='black',
                   linewidths=0.3)
    handles = [
        Line2D([], [],
               linestyle='none',
               marker=marker,
               markerfacecolor='lightgrey',
               markeredgecolor='black',
               label=f'{MODALITY_NAMES[value].upper()} '
               f'({int((modality == value).sum())})')
        for value, marker in MARKERS.items()
    ]
    ax.legend(handles=handles,
              loc='best',
              title=f'{len(ids)} ids, colour '
              '= identity')
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    folder = osp.dirname(osp.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(out_file, dpi=dpi)
    return out_file


def select_ids(pid: np.ndarray,
               num_ids: Optional[int],
               seed: int = 0) -> np.ndarray:
    """Items of ``num_ids`` identities drawn at random.

    Args:
        pid (np.ndarray): Identity of every item, shape (N,).
        num_ids (int, optional): How many ids to keep; None or 0: all.
        seed (int): Seed of the draw. Defaults to 0.

    Returns:
        np.ndarray: Indices of the items of the drawn ids, in item order.
    """
    ids = np.unique(pid)
    if num_ids and num_ids < len(ids):
        ids = np.random.default_rng(seed).choice(ids, num_ids, replace=False)
    return np.flatnonzero(np.isin(pid, ids))
