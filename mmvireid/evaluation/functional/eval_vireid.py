"""CMC, mAP and mINP under the SYSU-MM01, RegDB and LLCM protocols.

The community codes (``eval_sysu``, ``eval_regdb`` and ``eval_llcm`` of the
AGW and DEEN repositories) loop over queries in Python; :func:`eval_vireid`
gives the same numbers with array operations over blocks of queries, which
matters for SYSU-MM01 (3,803 queries, ten gallery trials, two settings).
"""
from typing import Dict, Union

import numpy as np

#: Protocols understood by :func:`eval_vireid`.
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
        raise ValueError(f'eval_vireid: {name} must have shape ({length},) '
                         f'to match distmat, got {array.shape}')
    return array


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


def _block_stats(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray,
                 q_camids: np.ndarray, g_camids: np.ndarray, protocol: str,
                 id_perm: np.ndarray, id_starts: np.ndarray) -> tuple:
    """Per-query AP, INP and first-match ranks of a block of queries.

    Args:
        distmat (np.ndarray): Distances, shape (B, G).
        q_pids, q_camids (np.ndarray): Query ids and cameras, shape (B,).
        g_pids, g_camids (np.ndarray): Gallery ids and cameras, shape (G,).
        protocol (str): One of :data:`PROTOCOLS`.
        id_perm (np.ndarray): Gallery columns sorted by id, shape (G,).
        id_starts (np.ndarray): Start of each id in ``g_pids[id_perm]``,
            shape (U,) for U distinct gallery ids.

    Returns:
        tuple: ``(valid, ap, inp, image_rank, dedup_rank)``, each of shape
        (B,): whether the query has a true match left after removal, its AP
        and INP, and the 1-based rank of its first true match in the ranking
        after removal, at image level and on the identity-deduplicated
        ranking. Entries of invalid queries are meaningless.
    """
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
    image_rank = np.take_along_axis(kept_rank, first_pos[:, None], axis=1)[:,
                                                                           0]

    # Deduplicated rank of the true id = 1 + number of distinct ids whose
    # first kept item comes before the first true match. Positions in the
    # full ranking keep the order of the kept items, so they compare alike.
    position = np.empty_like(order)
    np.put_along_axis(
        position, order, np.broadcast_to(np.arange(num_g), order.shape),
        axis=1)
    kept_position = np.where(keep, position, num_g)
    first_of_id = np.minimum.reduceat(
        kept_position[:, id_perm], id_starts, axis=1)
    dedup_rank = (first_of_id < first_pos[:, None]).sum(axis=1) + 1
    return valid, ap, inp, image_rank, dedup_rank


def eval_vireid(distmat,
                q_pids,
                g_pids,
                q_camids,
                g_camids,
                protocol: str,
                max_rank: int = 20) -> Dict[str, Union[np.ndarray, float]]:
    """CMC, mAP and mINP of a query x gallery distance matrix.

    The gallery is ranked per query by increasing distance (stable sort: ties
    keep gallery order). Then, by protocol:

    - ``'sysu'`` (SYSU-MM01): for a query of camera 3, every gallery item of
      camera 2 (the same room) is removed, whatever its id. CMC on the
      identity-deduplicated ranking (first occurrence of each id kept).
    - ``'llcm'`` (LLCM): gallery items with the query's id *and* camera number
      are removed. Identity-deduplicated CMC.
    - ``'regdb'`` (RegDB): nothing removed (cameras unused), image-level CMC.

    For every protocol, AP is the non-interpolated average precision over the
    ranked gallery after removal, at image level; INP = (number of true
    matches) / (1-based rank of the last true match), at image level after
    removal. Queries with no true match left are skipped: CMC, mAP and mINP
    are means over the other (valid) queries. This reproduces the results of
    the community ``eval_sysu`` / ``eval_llcm`` / ``eval_regdb`` (up to the
    order of exactly tied distances), with no loop over queries.

    Args:
        distmat (array-like): Query x gallery distances, shape (Q, G).
        q_pids (array-like): Query person ids, shape (Q,).
        g_pids (array-like): Gallery person ids, shape (G,).
        q_camids (array-like): Query camera numbers, shape (Q,).
        g_camids (array-like): Gallery camera numbers, shape (G,).
        protocol (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``.
        max_rank (int): Length of the CMC curve. Ranks beyond the end of the
            (deduplicated) ranking keep the last value. Defaults to 20.

    Returns:
        dict: ``cmc`` (np.ndarray, shape (max_rank,): fraction of valid
        queries whose true id is within the first k + 1 results), ``mAP``
        and ``mINP`` (float), all fractions in [0, 1].

    Raises:
        ValueError: On a protocol, max_rank or shape mistake, NaN distances,
            or when no query has a true match in the gallery.

    Example:
        >>> result = eval_vireid(distmat, q_pids, g_pids, q_camids, g_camids,
        ...                      protocol='sysu')
        >>> rank1, mAP = result['cmc'][0], result['mAP']
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f'eval_vireid: protocol must be one of {PROTOCOLS}, '
                         f'got {protocol!r}')
    if isinstance(max_rank, bool) or not isinstance(
            max_rank, (int, np.integer)) or max_rank < 1:
        raise ValueError('eval_vireid: max_rank must be a positive int, got '
                         f'{max_rank!r}')
    distmat = np.asarray(distmat)
    if distmat.ndim != 2 or 0 in distmat.shape:
        raise ValueError('eval_vireid: distmat must be a non-empty (Q, G) '
                         f'matrix, got shape {distmat.shape}')
    if np.isnan(distmat).any():
        raise ValueError('eval_vireid: distmat contains NaN, which has no '
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

    block = max(1, _BLOCK_ELEMENTS // num_g)
    stats = [
        _block_stats(distmat[s:s + block], q_pids[s:s + block], g_pids,
                     q_camids[s:s + block], g_camids, protocol, id_perm,
                     id_starts) for s in range(0, num_q, block)
    ]
    valid, ap, inp, image_rank, dedup_rank = (
        np.concatenate(column) for column in zip(*stats))
    if not valid.any():
        raise ValueError(
            f'eval_vireid: none of the {num_q} queries has a true match in '
            f'the gallery of {num_g} items after the {protocol!r} removals; '
            'check that query and gallery share ids')

    rank = (image_rank if protocol == 'regdb' else dedup_rank)[valid]
    cmc = (rank[:, None] <= np.arange(1, max_rank + 1)[None, :]).mean(axis=0)
    return dict(
        cmc=cmc, mAP=float(ap[valid].mean()), mINP=float(inp[valid].mean()))
