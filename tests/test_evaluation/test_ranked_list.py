import numpy as np
import pytest

from mmvireid.datasets.base_vireid_dataset import IR, RGB
from mmvireid.evaluation.functional import eval_vireid, removal_mask
from mmvireid.evaluation.functional.ranked_list import (ranked_lists,
                                                        setting_indices)


def test_sysu_ranked_lists_hand_worked():
    g_pids, g_camids = [1, 2, 1, 2], [2, 1, 4, 5]
    distmat = [
        [0.1, 0.2, 0.3, 0.4],  # camera 3: the camera-2 item goes
        [0.2, 0.3, 0.1, 0.4]
    ]  # camera 6: nothing goes
    lists = ranked_lists(distmat, [1, 1],
                         g_pids, [3, 6],
                         g_camids,
                         'sysu',
                         topk=4)
    assert lists['index'].tolist() == [[1, 2, 3, -1], [2, 0, 1, 3]]
    assert lists['match'].tolist() == [[False, True, False, False],
                                       [True, True, False, False]]
    np.testing.assert_allclose(lists['distance'][0], [0.2, 0.3, 0.4, np.nan])
    assert lists['num_kept'].tolist() == [3, 4]
    assert lists['num_matches'].tolist() == [1, 2]
    # query 0: its only match at rank 2; query 1: matches at ranks 1 and 2
    np.testing.assert_allclose(lists['ap'], [1 / 2, 1.0])


def test_llcm_removes_same_id_and_camera_only():
    lists = ranked_lists([[0.1, 0.3, 0.2]], [1], [1, 1, 2], [4], [4, 5, 4],
                         'llcm')
    assert lists['index'].tolist() == [[2, 1, -1]]
    assert lists['match'].tolist() == [[False, True, False]]
    np.testing.assert_allclose(lists['ap'], [1 / 2])


def test_regdb_keeps_everything_ties_keep_gallery_order_and_no_match():
    lists = ranked_lists([[0.5, 0.5, 0.1], [0.2, 0.1, 0.3]], [1, 7], [1, 2, 3],
                         [1, 1], [2, 2, 2],
                         'regdb',
                         topk=10)
    assert lists['index'].tolist() == [[2, 0, 1], [1, 0, 2]]
    assert lists['ap'][0] == pytest.approx(1 / 2)
    assert np.isnan(lists['ap'][1]) and lists['num_matches'][1] == 0


@pytest.mark.parametrize('protocol', ['sysu', 'regdb', 'llcm'])
def test_per_query_ap_averages_to_eval_vireid(protocol):
    rng = np.random.default_rng(0)
    q_pids, g_pids = rng.integers(0, 8, 40), rng.integers(0, 8, 60)
    q_camids = rng.choice([3, 6], 40) if protocol == 'sysu' else \
        rng.integers(1, 4, 40)
    g_camids = rng.choice([1, 2, 4, 5], 60) if protocol == 'sysu' else \
        rng.integers(1, 4, 60)
    distmat = rng.random((40, 60))
    lists = ranked_lists(distmat,
                         q_pids,
                         g_pids,
                         q_camids,
                         g_camids,
                         protocol,
                         topk=5)
    result = eval_vireid(distmat, q_pids, g_pids, q_camids, g_camids, protocol)
    valid = ~np.isnan(lists['ap'])
    assert np.mean(lists['ap'][valid]) == pytest.approx(result['mAP'])
    # rank-1 is the same with or without identity deduplication
    assert np.mean(lists['match'][valid, 0]) == pytest.approx(result['cmc'][0])


def test_removal_mask_and_errors():
    mask = removal_mask([1, 2], [1, 1, 2], [3, 6], [2, 1, 2], 'sysu')
    assert mask.tolist() == [[True, False, True], [False, False, False]]
    with pytest.raises(ValueError, match='protocol must be one of'):
        removal_mask([1], [1], [1], [1], 'market')
    with pytest.raises(ValueError, match=r'g_pids must have shape \(2,\)'):
        ranked_lists(np.zeros((1, 2)), [1], [1], [1], [1, 2], 'regdb')
    with pytest.raises(ValueError, match='topk must be a positive int'):
        ranked_lists(np.zeros((1, 1)), [1], [1], [1], [1], 'regdb', topk=0)


def test_setting_indices():
    is_query = [True, True, False, False, True]
    is_gallery = [False, False, True, True, True]
    modality = [IR, IR, RGB, RGB, RGB]
    camid = [3, 6, 1, 4, 2]
    setting = dict(query_modality=IR,
                   gallery_modality=RGB,
                   gallery_cams=[1, 2])
    q_index, c_index = setting_indices(setting, is_query, is_gallery, modality,
                                       camid)
    assert q_index.tolist() == [0, 1] and c_index.tolist() == [2, 4]
    setting = dict(query_modality=RGB, gallery_modality=IR, gallery_cams=None)
    q_index, c_index = setting_indices(setting, is_query, is_gallery, modality,
                                       camid)
    assert q_index.tolist() == [4] and c_index.tolist() == []
