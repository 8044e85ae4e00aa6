"""Per-query ranked lists as the VI-ReID protocols score them.

:func:`eval_vireid` returns the scores of a whole query set; analysis tools
also need what lies behind them: which queries and gallery candidates a
setting of :class:`VIReIDMetric` takes, the ranked gallery of every query
after the protocol's removals, and the AP of every query.
"""
from typing import Dict, Optional, Tuple

import numpy as np

from .eval_vireid import removal_mask


def setting_indices(setting: dict, is_query, is_gallery, modality,
                    camid) -> Tuple[np.ndarray, np.ndarray]:
    """Queries and gallery candidates of one evaluation setting.

    The selection of :class:`VIReIDMetric`: queries are the ``is_query``
    items of ``setting['query_modality']``; candidates the ``is_gallery``
    items of ``setting['gallery_modality']``, restricted to
    ``setting['gallery_cams']`` unless it is None. A trial's gallery is then
    drawn from the candidates by :func:`draw_gallery`.

    Args:
        setting (dict): A checked setting (``VIReIDMetric(...).settings``).
        is_query, is_gallery (array-like): Flags of every test item, (N,).
        modality, camid (array-like): ``modality`` and ``camid``, (N,).

    Returns:
        tuple: ``(q_index, c_index)``, int64 indices into the N items of the
        queries (Q,) and of the gallery candidates (C,), in item order.

    Example:
        >>> setting = VIReIDMetric(protocol='sysu').settings[0]  # 'all'
        >>> q_index, c_index = setting_indices(setting, is_query, is_gallery,
        ...                                    modality, camid)
    """
    query = np.asarray(is_query, dtype=bool) & (np.asarray(modality)
                                                == setting['query_modality'])
    candidate = np.asarray(is_gallery, dtype=bool) & (
        np.asarray(modality) == setting['gallery_modality'])
    if setting.get('gallery_cams') is not None:
        candidate &= np.isin(np.asarray(camid), setting['gallery_cams'])
    return np.flatnonzero(query), np.flatnonzero(candidate)


def ranked_lists(distmat,
                 q_pids,
                 g_pids,
                 q_camids,
                 g_camids,
                 protocol: str,
                 topk: Optional[int] = None) -> Dict[str, np.ndarray]:
    """The ranked gallery of every query after the protocol's removals.

    Ranks by increasing distance with a stable sort (ties keep gallery
    order), as :func:`eval_vireid` does, drops the items of
    :func:`removal_mask`, and computes each query's AP on that ranking (the
    per-query terms whose mean over valid queries is ``eval_vireid``'s mAP).

    Args:
        distmat (array-like): Query x gallery distances, shape (Q, G).
        q_pids, q_camids (array-like): Query ids and cameras, shape (Q,).
        g_pids, g_camids (array-like): Gallery ids and cameras, shape (G,).
        protocol (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``.
        topk (int, optional): Length K of the returned lists. None: the
            whole gallery (K = G). Defaults to None.

    Returns:
        dict: With K = ``min(topk, G)``,

        - ``index`` (np.ndarray, (Q, K) int64): gallery index of each rank,
          -1 past the end of a query's ranking (fewer than K items kept).
        - ``distance`` (np.ndarray, (Q, K) float): their distances (NaN
          where ``index`` is -1).
        - ``match`` (np.ndarray, (Q, K) bool): whether the item has the
          query's id.
        - ``num_kept`` (np.ndarray, (Q,) int64): gallery size after removal.
        - ``num_matches`` (np.ndarray, (Q,) int64): true matches kept.
        - ``ap`` (np.ndarray, (Q,) float): average precision over the whole
          ranking; NaN for a query with no true match (the metric skips it).

    Example:
        >>> lists = ranked_lists(distmat, q_pids, g_pids, q_camids, g_camids,
        ...                      protocol='sysu', topk=10)
        >>> worst_first = np.argsort(lists['ap'])  # NaN (no match) last
    """
    distmat = np.asarray(distmat, dtype=np.float64)
    if distmat.ndim != 2 or 0 in distmat.shape:
        raise ValueError('ranked_lists: distmat must be a non-empty (Q, G) '
                         f'matrix, got shape {distmat.shape}')
    num_q, num_g = distmat.shape
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    for name, value, length in (('q_pids', q_pids, num_q), ('q_camids',
                                                            q_camids, num_q),
                                ('g_pids', g_pids, num_g), ('g_camids',
                                                            g_camids, num_g)):
        if value.shape != (length, ):
            raise ValueError(f'ranked_lists: {name} must have shape '
                             f'({length},) to match distmat, got '
                             f'{value.shape}')
    if topk is not None and (isinstance(topk, bool) or topk < 1):
        raise ValueError(f'ranked_lists: topk must be a positive int or None,'
                         f' got {topk!r}')
    keep = ~removal_mask(q_pids, g_pids, q_camids, g_camids, protocol)
    order = np.argsort(distmat, axis=1, kind='stable')
    # Move the removed items behind the kept ones, keeping both orders.
    keep_ranked = np.take_along_axis(keep, order, axis=1)
    order = np.take_along_axis(order,
                               np.argsort(~keep_ranked, axis=1, kind='stable'),
                               axis=1)
    num_kept = keep.sum(axis=1)
    within = np.arange(num_g)[None, :] < num_kept[:, None]
    match = np.take_along_axis(
        q_pids[:, None] == g_pids[None, :], order, axis=1) & within

    num_matches = match.sum(axis=1)
    precision = np.cumsum(match, axis=1) / np.arange(1, num_g + 1)[None, :]
    with np.errstate(invalid='ignore', divide='ignore'):
        ap = np.where(match, precision, 0.0).sum(axis=1) / num_matches

    k = num_g if topk is None else min(topk, num_g)
    index = np.where(within[:, :k], order[:, :k], -1)
    distance = np.where(within[:, :k],
                        np.take_along_axis(distmat, order[:, :k], axis=1),
                        np.nan)
    return dict(index=index.astype(np.int64),
                distance=distance,
                match=match[:, :k],
                num_kept=num_kept.astype(np.int64),
                num_matches=num_matches.astype(np.int64),
                ap=ap)
