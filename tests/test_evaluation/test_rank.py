import importlib

import numpy as np
import pytest

from mmvireid.evaluation.functional import (eval_vireid, evaluate_rank,
                                            removal_mask, summarize_rank)

# the package exports the function under the module's name
rank_module = importlib.import_module('mmvireid.evaluation.functional.rank')


def reference_per_query(distmat, q_pids, g_pids, q_camids, g_camids,
                        protocol, topk):
    """Per-query loop written from the protocol rules (dense reference):
    per query, None without a true match, else its AP, INP, first-match
    rank on the CMC ranking and top-k (gallery index, distance, match)."""
    queries = []
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind='stable')
        pids, cams = g_pids[order], g_camids[order]
        if protocol == 'sysu':
            remove = (q_camids[i] == 3) & (cams == 2)
        elif protocol == 'llcm':
            remove = (pids == q_pids[i]) & (cams == q_camids[i])
        else:
            remove = np.zeros(len(pids), dtype=bool)
        order, pids = order[~remove], pids[~remove]
        hit_ranks = np.flatnonzero(pids == q_pids[i]) + 1
        if len(hit_ranks) == 0:
            queries.append(None)
            continue
        ranked = pids.tolist()
        if protocol != 'regdb':
            ranked = list(dict.fromkeys(ranked))  # first occurrence per id
        queries.append(
            dict(
                ap=np.mean(np.arange(1, len(hit_ranks) + 1) / hit_ranks),
                inp=len(hit_ranks) / hit_ranks[-1],
                first=ranked.index(q_pids[i]) + 1,
                top=[(int(g), distmat[i, g], bool(g_pids[g] == q_pids[i]))
                     for g in order[:topk]]))
    return queries


def reference_eval(distmat, q_pids, g_pids, q_camids, g_camids, protocol,
                   max_rank):
    """CMC, mAP and mINP: means of the reference over the valid queries."""
    valid = [
        q for q in reference_per_query(distmat, q_pids, g_pids, q_camids,
                                       g_camids, protocol, 0) if q
    ]
    cmc = [[q['first'] <= k for k in range(1, max_rank + 1)] for q in valid]
    return (np.mean(cmc, axis=0), np.mean([q['ap'] for q in valid]),
            np.mean([q['inp'] for q in valid]))


def test_ap_inp_hand_worked():
    # one query of id 1, true matches at ranks 1, 3, 6
    g_pids = np.array([1, 2, 1, 3, 4, 1])
    distmat = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    result = eval_vireid(
        distmat, [1], g_pids, [1], np.full(6, 2), 'regdb', max_rank=3)
    assert result['mAP'] == pytest.approx((1 / 1 + 2 / 3 + 3 / 6) / 3)
    assert result['mINP'] == pytest.approx(3 / 6)
    np.testing.assert_allclose(result['cmc'], [1, 1, 1])
    assert result['cmc'].shape == (3, )


def test_sysu_removes_cam2_for_cam3_queries():
    # gallery (pid, cam): (1, 2) (2, 1) (3, 2) (1, 4); rows: cam3 / cam6 query
    g_pids = np.array([1, 2, 3, 1])
    g_camids = np.array([2, 1, 2, 4])
    distmat = np.array([[0.05, 0.1, 0.15, 0.2]] * 2)
    q_pids, q_camids = np.array([1, 1]), np.array([3, 6])

    cam3 = eval_vireid(distmat[:1], q_pids[:1], g_pids, q_camids[:1],
                       g_camids, 'sysu', max_rank=3)
    # both cam2 items go (also id 3): ranking (2, cam1), (1, cam4)
    assert cam3['mAP'] == pytest.approx(1 / 2)
    assert cam3['mINP'] == pytest.approx(1 / 2)
    np.testing.assert_allclose(cam3['cmc'], [0, 1, 1])

    cam6 = eval_vireid(distmat[1:], q_pids[1:], g_pids, q_camids[1:],
                       g_camids, 'sysu', max_rank=3)
    # nothing removed: ids 1, 2, 3, 1 -> hits at 1 and 4
    assert cam6['mAP'] == pytest.approx((1 + 2 / 4) / 2)
    assert cam6['mINP'] == pytest.approx(2 / 4)
    np.testing.assert_allclose(cam6['cmc'], [1, 1, 1])

    both = eval_vireid(distmat, q_pids, g_pids, q_camids, g_camids, 'sysu',
                       max_rank=3)
    assert both['mAP'] == pytest.approx((1 / 2 + 3 / 4) / 2)
    np.testing.assert_allclose(both['cmc'], [0.5, 1, 1])


def test_llcm_removes_same_id_and_same_camera():
    # gallery (pid, cam): (1, 5) (2, 5) (1, 3) (3, 1); query id 1 of camera 5
    g_pids = np.array([1, 2, 1, 3])
    g_camids = np.array([5, 5, 3, 1])
    distmat = np.array([[0.1, 0.2, 0.3, 0.4]])
    result = eval_vireid(distmat, [1], g_pids, [5], g_camids, 'llcm',
                         max_rank=3)
    # (1, 5) goes; (2, 5) other id same camera and (1, 3) stay
    assert result['mAP'] == pytest.approx(1 / 2)
    assert result['mINP'] == pytest.approx(1 / 2)
    np.testing.assert_allclose(result['cmc'], [0, 1, 1])


def test_llcm_has_no_sysu_camera_rule():
    # a camera-3 query keeps the camera-2 gallery items under llcm
    g_pids, g_camids = np.array([1, 2]), np.array([2, 1])
    distmat = np.array([[0.1, 0.2]])
    llcm = eval_vireid(distmat, [1], g_pids, [3], g_camids, 'llcm')
    assert llcm['mAP'] == pytest.approx(1.0)
    with pytest.raises(ValueError, match='none of the 1 queries'):
        eval_vireid(distmat, [1], g_pids, [3], g_camids, 'sysu')


def test_dedup_vs_image_level_cmc():
    # query id 1 ranks ids 2, 2, 3, 1; query id 3 ranks ids 3, ... first
    g_pids = np.array([2, 2, 3, 1])
    g_camids = np.ones(4, dtype=int)
    distmat = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.1, 0.2]])
    q_pids, q_camids = np.array([1, 3]), np.array([6, 6])

    image = eval_vireid(distmat, q_pids, g_pids, q_camids, g_camids, 'regdb',
                        max_rank=4)
    np.testing.assert_allclose(image['cmc'], [0.5, 0.5, 0.5, 1])
    for protocol in ('sysu', 'llcm'):
        dedup = eval_vireid(distmat, q_pids, g_pids, q_camids, g_camids,
                            protocol, max_rank=4)
        # deduplicated ranking of query 1: ids 2, 3, 1 -> rank 3
        np.testing.assert_allclose(dedup['cmc'], [0.5, 0.5, 1, 1])
        # AP stays at image level: query 1 hit at 4, query 3 at 1
        assert dedup['mAP'] == pytest.approx((1 / 4 + 1) / 2)
        assert dedup['mINP'] == pytest.approx((1 / 4 + 1) / 2)


def test_queries_without_match_are_skipped():
    g_pids, g_camids = np.array([1, 2]), np.array([1, 1])
    distmat = np.array([[0.1, 0.2], [0.1, 0.2], [0.3, 0.1]])
    # query 2 (id 9) has no match in the gallery
    result = eval_vireid(distmat, [1, 9, 2], g_pids, [6, 6, 6], g_camids,
                         'sysu', max_rank=2)
    assert result['mAP'] == pytest.approx(1.0)
    assert result['mINP'] == pytest.approx(1.0)
    np.testing.assert_allclose(result['cmc'], [1, 1])

    # query 1 (id 1, camera 3) loses its only match (camera 2) under sysu;
    # valid: query 2 (hit at 1) and query 3 (hit at 1)
    g_camids = np.array([2, 1])
    result = eval_vireid(distmat, [1, 1, 2], g_pids, [3, 6, 6], g_camids,
                         'sysu', max_rank=2)
    assert result['mAP'] == pytest.approx(1.0)
    np.testing.assert_allclose(result['cmc'], [1, 1])

    with pytest.raises(ValueError, match='true match'):
        eval_vireid(distmat, [7, 8, 9], g_pids, [6, 6, 6], g_camids, 'regdb')


def test_ties_keep_gallery_order():
    # equal distances: ranking is the gallery order, ids 2, 1, 1
    distmat = np.full((1, 3), 0.5)
    result = eval_vireid(distmat, [1], [2, 1, 1], [6], [1, 1, 1], 'regdb',
                         max_rank=3)
    assert result['mAP'] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert result['mINP'] == pytest.approx(2 / 3)
    np.testing.assert_allclose(result['cmc'], [0, 1, 1])


def test_max_rank_longer_than_gallery():
    distmat = np.array([[0.1, 0.2, 0.3]])
    dedup = eval_vireid(distmat, [1], [2, 2, 1], [6], [1, 1, 1], 'sysu',
                        max_rank=5)
    np.testing.assert_allclose(dedup['cmc'], [0, 1, 1, 1, 1])
    image = eval_vireid(distmat, [1], [2, 2, 1], [6], [1, 1, 1], 'regdb',
                        max_rank=5)
    np.testing.assert_allclose(image['cmc'], [0, 0, 1, 1, 1])


@pytest.mark.parametrize('protocol', ['sysu', 'regdb', 'llcm'])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_per_query_reference(protocol, seed, monkeypatch):
    rng = np.random.default_rng(seed)
    num_q, num_g = 40, 30
    # coarse distances make ties; few ids and cameras make removals
    distmat = rng.integers(0, 8, size=(num_q, num_g)) / 8
    q_pids = rng.integers(0, 8, size=num_q)
    g_pids = rng.integers(0, 6, size=num_g)
    q_camids = rng.choice([3, 6], size=num_q)
    g_camids = rng.integers(1, 6, size=num_g)
    if protocol == 'llcm':
        q_camids = rng.integers(1, 4, size=num_q)
        g_camids = rng.integers(1, 4, size=num_g)
    # several query blocks
    monkeypatch.setattr(rank_module, '_BLOCK_ELEMENTS', 7 * num_g)

    result = eval_vireid(distmat, q_pids, g_pids, q_camids, g_camids,
                         protocol, max_rank=25)
    cmc, mAP, mINP = reference_eval(distmat, q_pids, g_pids, q_camids,
                                    g_camids, protocol, 25)
    np.testing.assert_allclose(result['cmc'], cmc)
    assert result['mAP'] == pytest.approx(mAP)
    assert result['mINP'] == pytest.approx(mINP)


@pytest.mark.parametrize('kwargs, message', [
    (dict(protocol='market'), 'protocol must be one of'),
    (dict(max_rank=0), 'max_rank must be a positive int'),
    (dict(distmat=np.zeros(3)), r'non-empty \(Q, G\)'),
    (dict(distmat=np.full((2, 3), np.nan)), 'NaN'),
    (dict(q_pids=[1, 2, 3]), r'q_pids must have shape \(2,\)'),
    (dict(g_camids=[1, 1]), r'g_camids must have shape \(3,\)'),
])
def test_bad_input_raises(kwargs, message):
    args = dict(
        distmat=np.zeros((2, 3)),
        q_pids=[1, 2],
        g_pids=[1, 2, 3],
        q_camids=[6, 6],
        g_camids=[1, 1, 1],
        protocol='sysu')
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        eval_vireid(**args)


@pytest.mark.parametrize('protocol', ['sysu', 'regdb', 'llcm'])
@pytest.mark.parametrize('seed', [0, 1])
def test_per_query_results_match_reference(protocol, seed, monkeypatch):
    rng = np.random.default_rng(seed)
    num_q, num_g, topk = 40, 30, 7
    distmat = rng.integers(0, 8, size=(num_q, num_g)) / 8
    q_pids = rng.integers(0, 8, size=num_q)
    g_pids = rng.integers(0, 6, size=num_g)
    q_camids = rng.choice([3, 6], size=num_q)
    g_camids = rng.integers(1, 6, size=num_g)
    if protocol == 'llcm':
        q_camids = rng.integers(1, 4, size=num_q)
        g_camids = rng.integers(1, 4, size=num_g)
    monkeypatch.setattr(rank_module, '_BLOCK_ELEMENTS', 7 * num_g)

    results = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids,
                            protocol, max_rank=25, topk=topk)
    reference = reference_per_query(distmat, q_pids, g_pids, q_camids,
                                    g_camids, protocol, topk)
    assert results['valid'].tolist() == [q is not None for q in reference]
    assert 0 < results['valid'].sum() < num_q  # both kinds occur
    for i, query in enumerate(reference):
        if query is None:
            assert np.isnan(results['ap'][i]) and np.isnan(results['inp'][i])
            assert results['first_match_rank'][i] == 0
            assert not results['cmc'][i].any()
            assert results['num_matches'][i] == 0
            continue
        assert results['ap'][i] == pytest.approx(query['ap'])
        assert results['inp'][i] == pytest.approx(query['inp'])
        assert results['first_match_rank'][i] == query['first']
        np.testing.assert_array_equal(results['cmc'][i],
                                      np.arange(1, 26) >= query['first'])
        top = results['index'][i][results['index'][i] >= 0]
        assert [(int(g), results['distance'][i][k],
                 bool(results['match'][i][k]))
                for k, g in enumerate(top)] == query['top']
    summary = summarize_rank(results)
    cmc, mAP, mINP = reference_eval(distmat, q_pids, g_pids, q_camids,
                                    g_camids, protocol, 25)
    np.testing.assert_allclose(summary['cmc'], cmc)
    assert summary['mAP'] == pytest.approx(mAP)
    assert summary['mINP'] == pytest.approx(mINP)


def test_sysu_ranked_lists_hand_worked():
    g_pids, g_camids = [1, 2, 1, 2], [2, 1, 4, 5]
    distmat = [
        [0.1, 0.2, 0.3, 0.4],  # camera 3: the camera-2 item goes
        [0.2, 0.3, 0.1, 0.4]
    ]  # camera 6: nothing goes
    results = evaluate_rank(distmat, [1, 1], g_pids, [3, 6], g_camids, 'sysu',
                            max_rank=3, topk=4)
    assert results['index'].tolist() == [[1, 2, 3, -1], [2, 0, 1, 3]]
    assert results['match'].tolist() == [[False, True, False, False],
                                         [True, True, False, False]]
    np.testing.assert_allclose(results['distance'][0],
                               [0.2, 0.3, 0.4, np.nan])
    assert results['num_kept'].tolist() == [3, 4]
    assert results['num_matches'].tolist() == [1, 2]
    # query 0: its only match at rank 2 (ids 2, 1, 2); query 1: matches at
    # ranks 1 and 2
    np.testing.assert_allclose(results['ap'], [1 / 2, 1.0])
    np.testing.assert_allclose(results['inp'], [1 / 2, 1.0])
    assert results['first_match_rank'].tolist() == [2, 1]
    assert results['cmc'].tolist() == [[False, True, True],
                                       [True, True, True]]
    assert results['valid'].tolist() == [True, True]


def test_llcm_removes_same_id_and_camera_only():
    results = evaluate_rank([[0.1, 0.3, 0.2]], [1], [1, 1, 2], [4],
                            [4, 5, 4], 'llcm', topk=10)
    assert results['index'].tolist() == [[2, 1, -1]]
    assert results['match'].tolist() == [[False, True, False]]
    np.testing.assert_allclose(results['ap'], [1 / 2])


def test_first_match_rank_deduplicated_or_image_level():
    # query id 1 ranks ids 2, 2, 3, 1
    distmat = [[0.1, 0.2, 0.3, 0.4]]
    args = ([1], [2, 2, 3, 1], [6], [1, 1, 1, 1])
    assert evaluate_rank(distmat, *args, 'regdb')[
        'first_match_rank'].tolist() == [4]
    for protocol in ('sysu', 'llcm'):
        assert evaluate_rank(distmat, *args, protocol)[
            'first_match_rank'].tolist() == [3]


def test_regdb_keeps_everything_ties_keep_gallery_order_and_no_match():
    results = evaluate_rank([[0.5, 0.5, 0.1], [0.2, 0.1, 0.3]], [1, 7],
                            [1, 2, 3], [1, 1], [2, 2, 2], 'regdb', topk=10)
    assert results['index'].tolist() == [[2, 0, 1], [1, 0, 2]]
    assert results['ap'][0] == pytest.approx(1 / 2)
    assert np.isnan(results['ap'][1]) and results['num_matches'][1] == 0
    assert results['valid'].tolist() == [True, False]
    # the metric's mean skips the query without a match
    assert summarize_rank(results)['mAP'] == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match='none of the 1 queries'):
        summarize_rank(
            evaluate_rank([[0.1]], [7], [1], [1], [2], 'regdb'))


def test_removal_mask_and_errors():
    mask = removal_mask([1, 2], [1, 1, 2], [3, 6], [2, 1, 2], 'sysu')
    assert mask.tolist() == [[True, False, True], [False, False, False]]
    with pytest.raises(ValueError, match='protocol must be one of'):
        removal_mask([1], [1], [1], [1], 'market')
    with pytest.raises(ValueError, match=r'g_pids must have shape \(2,\)'):
        evaluate_rank(np.zeros((1, 2)), [1], [1], [1], [1, 2], 'regdb')
    with pytest.raises(ValueError, match='topk must be a positive int'):
        evaluate_rank(np.zeros((1, 1)), [1], [1], [1], [1], 'regdb', topk=0)
