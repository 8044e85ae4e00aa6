"""Per-query ranking results under the SYSU-MM01, RegDB and LLCM protocols.

:func:`evaluate_rank` is the one place where a query x gallery distance
matrix is ranked and scored (as fast-reid's ``evaluate_rank``): it returns
the AP, INP, first-match rank and CMC row of every query after the
protocol's removals, and optionally its top-k ranked gallery.
:func:`summarize_rank` averages them into the CMC curve, mAP and mINP;
:func:`eval_vireid` does both. The community codes (``eval_sysu``,
``eval_regdb`` and ``eval_llcm`` of the AGW and DEEN repositories) loop over
queries in Python; here every step is an array operation over blocks of
queries, which matters for SYSU-MM01 (3,803 queries, ten gallery trials, two
settings).
"""
from typing import Dict, Optional, Union

import numpy as np

#: Protocols understood by :func:`evaluate_rank`.
PROTOCOLS = ('sysu', 'regdb', 'llcm')

#: SYSU-MM01: a query of this camera (IR, room 1) ...
_SYSU_QUERY_CAM = 3
#: ... never sees gallery images of this camera (RGB, the same room).
_SYSU_REMOVED_GALLERY_CAM = 2

#: Queries are evaluated in blocks of about this many query x gallery
#: entries, which bounds the memory of the (block, G) work arrays.
_BLOCK_ELEMENTS = 1 << 22


def _as_vector(name: str, value, length: int) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != (length, ):
        raise ValueError(f'evaluate_rank: {name} must have shape ({length},)'
                         f' to match distmat, got {array.shape}')
    return array


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(
            value, (int, np.integer)) or value < 1:
        raise ValueError(f'evaluate_rank: {name} must be a positive int, got '
                         f'{value!r}')


def removal_mask(q_pids, g_pids, q_camids, g_camids,
                 protocol: str) -> np.ndarray:
    """Gallery items a protocol removes from each query's ranking.

    - ``'sysu'``: for a query of camera 3, every gallery item of camera 2
      (the same room), whatever its id.
    - ``'llcm'``: gallery items with the query's id *and* camera number.
    - ``'regdb'``: nothing.

    Args:
        q_pids, q_camids (array-like): Query ids and cameras, shape (Q,).
        g_pids, g_camids (array-like): Gallery ids and cameras, shape (G,).
        protocol (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``.

    Returns:
        np.ndarray: bool, shape (Q, G), True where the item is removed.

    Example:
        >>> removal_mask([1, 2], [1, 1, 2], [3, 6], [2, 1, 2], 'sysu')
        array([[ True, False,  True],
               [False, False, False]])
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f'removal_mask: protocol must be one of {PROTOCOLS}'
                         f', got {protocol!r}')
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    if protocol == 'sysu':
        return ((q_camids == _SYSU_QUERY_CAM)[:, None]
                & (g_camids == _SYSU_REMOVED_GALLERY_CAM)[None, :])
    if protocol == 'llcm':
        return ((q_pids[:, None] == g_pids[None, :])
                & (q_camids[:, None] == g_camids[None, :]))
    return np.zeros((len(q_pids), len(g_pids)), dtype=bool)


def _block_results(distmat: np.ndarray, q_pids: np.ndarray,
                   g_pids: np.ndarray, q_camids: np.ndarray,
                   g_camids: np.ndarray, protocol: str, id_perm: np.ndarray,
                   id_starts: np.ndarray, topk: int) -> dict:
    """Per-query results of a block of B queries (see
    :func:`evaluate_rank`; ``id_perm`` sorts the gallery columns by id and
    ``id_starts`` are the starts of the U distinct ids in that order)."""
    num_g = distmat.shape[1]
    # A stable sort breaks ties by gallery index, whatever the platform.
    order = np.argsort(distmat, axis=1, kind='stable')

    same_pid = q_pids[:, None] == g_pids[None, :]
    keep = ~removal_mask(q_pids, g_pids, q_camids, g_camids, protocol)
    match = same_pid & keep

    # Everything below in ranking order: column j is the j-th nearest item.
    keep_ranked = np.take_along_axis(keep, order, axis=1)
    match_ranked = np.take_along_axis(match, order, axis=1)
    kept_rank = np.cumsum(keep_ranked, axis=1, dtype=np.int64)
    num_hits = np.cumsum(match_ranked, axis=1, dtype=np.int64)
    num_rel = num_hits[:, -1]
    valid = num_rel > 0
    safe_rel = np.maximum(num_rel, 1)

    precision = num_hits / np.maximum(kept_rank, 1)
    ap = np.where(match_ranked, precision, 0.0).sum(axis=1) / safe_rel
    last_rank = np.where(match_ranked, kept_rank, 0).max(axis=1)
    inp = num_rel / np.maximum(last_rank, 1)
    first_pos = np.argmax(match_ranked, axis=1)
    if protocol == 'regdb':
        # Image-level CMC: the rank among the kept items (all are kept).
        first_rank = np.take_along_axis(kept_rank, first_pos[:, None],
                                        axis=1)[:, 0]
    else:
        # Deduplicated rank of the true id = 1 + number of distinct ids
        # whose first kept item comes before the first true match. Positions
        # in the full ranking keep the order of the kept items, so they
        # compare alike.
        position = np.empty_like(order)
        np.put_along_axis(
            position, order, np.broadcast_to(np.arange(num_g), order.shape),
            axis=1)
        kept_position = np.where(keep, position, num_g)
        first_of_id = np.minimum.reduceat(
            kept_position[:, id_perm], id_starts, axis=1)
        first_rank = (first_of_id < first_pos[:, None]).sum(axis=1) + 1

    results = dict(
        valid=valid,
        ap=np.where(valid, ap, np.nan),
        inp=np.where(valid, inp, np.nan),
        first_match_rank=np.where(valid, first_rank, 0),
        num_kept=kept_rank[:, -1],
        num_matches=num_rel)
    if topk:
        # The k-th kept item of a row sits where its running count of kept
        # items reaches k: scatter the first topk kept items to columns
        # 0..topk-1, -1 past the end of a short ranking.
        rows, cols = np.nonzero(keep_ranked & (kept_rank <= topk))
        slot = kept_rank[rows, cols] - 1
        index = np.full((len(q_pids), topk), -1, dtype=np.int64)
        index[rows, slot] = order[rows, cols]
        present = index >= 0
        safe = np.where(present, index, 0)
        results.update(
            index=index,
            distance=np.where(present,
                              np.take_along_axis(distmat, safe, axis=1),
                              np.nan),
            match=present & np.take_along_axis(same_pid, safe, axis=1))
    return results


def evaluate_rank(distmat,
                  q_pids,
                  g_pids,
                  q_camids,
                  g_camids,
                  protocol: str,
                  max_rank: int = 20,
                  topk: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Rank the gallery of every query and score it, query by query.

    The gallery is ranked per query by increasing distance (stable sort:
    ties keep gallery order). Then, by protocol:

    - ``'sysu'`` (SYSU-MM01): for a query of camera 3, every gallery item of
      camera 2 (the same room) is removed, whatever its id. CMC on the
      identity-deduplicated ranking (first occurrence of each id kept).
    - ``'llcm'`` (LLCM): gallery items with the query's id *and* camera
      number are removed. Identity-deduplicated CMC.
    - ``'regdb'`` (RegDB): nothing removed (cameras unused), image-level CMC.

    For every protocol, AP is the non-interpolated average precision over
    the ranked gallery after removal, at image level; INP = (number of true
    matches) / (1-based rank of the last true match), at image level after
    removal. A query with no true match left is *invalid*: the protocols
    skip it (:func:`summarize_rank`). Everything is computed with array
    operations over blocks of queries, no loop over queries.

    Args:
        distmat (array-like): Query x gallery distances, shape (Q, G).
        q_pids (array-like): Query person ids, shape (Q,).
        g_pids (array-like): Gallery person ids, shape (G,).
        q_camids (array-like): Query camera numbers, shape (Q,).
        g_camids (array-like): Gallery camera numbers, shape (G,).
        protocol (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``.
        max_rank (int): Length R of the CMC rows. Ranks beyond the end of the
            (deduplicated) ranking keep the last value. Defaults to 20.
        topk (int, optional): Also return the first K = ``min(topk, G)``
            items of every ranking after removal. Defaults to None.

    Returns:
        dict[str, np.ndarray]: Per query,

        - ``valid`` (Q,) bool: a true match is left after removal.
        - ``ap``, ``inp`` (Q,) float64: AP and INP in [0, 1]; NaN if invalid.
        - ``first_match_rank`` (Q,) int64: 1-based rank of the first true
          match on the ranking the protocol's CMC uses (identity-deduplicated
          for ``'sysu'`` / ``'llcm'``, image level for ``'regdb'``); 0 if
          invalid.
        - ``cmc`` (Q, R) bool: ``first_match_rank <= k`` for k = 1..R (the
          CMC row; all False if invalid).
        - ``num_kept`` (Q,) int64: gallery size after removal.
        - ``num_matches`` (Q,) int64: true matches after removal.
        - with ``topk``: ``index`` (Q, K) int64, the gallery index of each
          rank after removal (-1 past the end of a short ranking);
          ``distance`` (Q, K) float, their distances (NaN where ``index`` is
          -1); ``match`` (Q, K) bool, whether they have the query's id.

    Raises:
        ValueError: On a protocol, max_rank, topk or shape mistake, or NaN
            distances.

    Example:
        >>> results = evaluate_rank(distmat, q_pids, g_pids, q_camids,
        ...                         g_camids, protocol='sysu', topk=10)
        >>> worst_first = np.argsort(results['ap'])  # NaN (invalid) last
        >>> summarize_rank(results)['mAP'] == np.nanmean(results['ap'])
        True
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f'evaluate_rank: protocol must be one of '
                         f'{PROTOCOLS}, got {protocol!r}')
    _check_positive_int('max_rank', max_rank)
    if topk is not None:
        _check_positive_int('topk', topk)
    distmat = np.asarray(distmat)
    if distmat.ndim != 2 or 0 in distmat.shape:
        raise ValueError('evaluate_rank: distmat must be a non-empty (Q, G) '
                         f'matrix, got shape {distmat.shape}')
    if np.isnan(distmat).any():
        raise ValueError('evaluate_rank: distmat contains NaN, which has no '
                         'place in a ranking')
    num_q, num_g = distmat.shape
    q_pids = _as_vector('q_pids', q_pids, num_q)
    g_pids = _as_vector('g_pids', g_pids, num_g)
    q_camids = _as_vector('q_camids', q_camids, num_q)
    g_camids = _as_vector('g_camids', g_camids, num_g)

    id_perm = np.argsort(g_pids, kind='stable')
    sorted_ids = g_pids[id_perm]
    id_starts = np.flatnonzero(
        np.concatenate([[True], sorted_ids[1:] != sorted_ids[:-1]]))

    topk = None if topk is None else min(topk, num_g)
    block = max(1, _BLOCK_ELEMENTS // num_g)
    blocks = [
        _block_results(distmat[s:s + block], q_pids[s:s + block], g_pids,
                       q_camids[s:s + block], g_camids, protocol, id_perm,
                       id_starts, topk) for s in range(0, num_q, block)
    ]
    results = {
        key: np.concatenate([b[key] for b in blocks])
        for key in blocks[0]
    }
    results['cmc'] = (results['first_match_rank'][:, None]
                      <= np.arange(1, max_rank + 1)[None, :]) \
        & results['valid'][:, None]
    return results


def summarize_rank(results: Dict[str, np.ndarray]
                   ) -> Dict[str, Union[np.ndarray, float]]:
    """CMC curve, mAP and mINP: means over the valid queries.

    Args:
        results (dict): Per-query results of :func:`evaluate_rank` (at least
            ``valid``, ``ap``, ``inp`` and ``cmc``).

    Returns:
        dict: ``cmc`` (np.ndarray, shape (R,): fraction of the valid queries
        whose true id is within the first k results, k = 1..R), ``mAP`` and
        ``mINP`` (float), all fractions in [0, 1].

    Raises:
        ValueError: When no query is valid.

    Example:
        >>> summary = summarize_rank(evaluate_rank(distmat, q_pids, g_pids,
        ...                                        q_camids, g_camids, 'sysu'))
        >>> rank1, mAP = summary['cmc'][0], summary['mAP']
    """
    valid = results['valid']
    if not valid.any():
        raise ValueError(
            f'none of the {len(valid)} queries has a true match in the '
            'gallery after the protocol\'s removals; check that query and '
            'gallery share ids')
    return dict(
        cmc=results['cmc'][valid].mean(axis=0),
        mAP=float(results['ap'][valid].mean()),
        mINP=float(results['inp'][valid].mean()))


def eval_vireid(distmat,
                q_pids,
                g_pids,
                q_camids,
                g_camids,
                protocol: str,
                max_rank: int = 20) -> Dict[str, Union[np.ndarray, float]]:
    """CMC, mAP and mINP of a query x gallery distance matrix.

    :func:`summarize_rank` of :func:`evaluate_rank`: the ranking, removals
    and scores of the protocol (see there), averaged over the queries that
    keep a true match. This reproduces the results of the community
    ``eval_sysu`` / ``eval_llcm`` / ``eval_regdb`` (up to the order of
    exactly tied distances).

    Args:
        distmat (array-like): Query x gallery distances, shape (Q, G).
        q_pids, q_camids (array-like): Query ids and cameras, shape (Q,).
        g_pids, g_camids (array-like): Gallery ids and cameras, shape (G,).
        protocol (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``.
        max_rank (int): Length of the CMC curve. Defaults to 20.

    Returns:
        dict: ``cmc`` (np.ndarray, shape (max_rank,)), ``mAP`` and ``mINP``
        (float), all fractions in [0, 1].

    Raises:
        ValueError: On a protocol, max_rank or shape mistake, NaN distances,
            or when no query has a true match in the gallery.

    Example:
        >>> result = eval_vireid(distmat, q_pids, g_pids, q_camids, g_camids,
        ...                      protocol='sysu')
        >>> rank1, mAP = result['cmc'][0], result['mAP']
    """
    return summarize_rank(
        evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, protocol,
                      max_rank))
