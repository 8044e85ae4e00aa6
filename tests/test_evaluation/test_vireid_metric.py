import importlib
import math
import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mmvireid.evaluation import VIReIDMetric
from mmvireid.evaluation.functional import (eval_vireid, load_rand_perm_cam,
                                            re_ranking)
from mmvireid.registry import METRICS
from mmvireid.structures import IR, RGB
from mmvireid.testing.sysu_rand_perm_cam import write_rand_perm_cam

metric_module = importlib.import_module(
    'mmvireid.evaluation.metrics.vireid_metric')


def sample(pid, camid, modality, degrees, norm=1.0, name=None, query=True,
           gallery=True):
    """A test sample whose 2-D feature points at ``degrees``."""
    angle = math.radians(degrees)
    feature = norm * torch.tensor([math.cos(angle), math.sin(angle)])
    return dict(
        feature=feature,
        pid=pid,
        camid=camid,
        modality=modality,
        is_query=query,
        is_gallery=gallery,
        img_path=name or f'cam{camid}/{pid:04d}/{degrees}.jpg')


def evaluate(metric, samples):
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_regdb_end_to_end_hand_worked():
    # features of different norms: only their directions may matter
    samples = [
        sample(1, 1, RGB, 0, norm=3.0),
        sample(2, 1, RGB, 90, norm=0.5),
        sample(1, 2, IR, 10, norm=2.0),
        sample(2, 2, IR, 30, norm=0.2),
        sample(1, 2, IR, 80, norm=5.0),
        sample(2, 2, IR, 160),
    ]
    metrics = evaluate(VIReIDMetric(protocol='regdb'), samples)
    # visible -> thermal: query id 1 ranks ids 1, 2, 1, 2 (hits 1, 3);
    # query id 2 ranks ids 1, 2, 2, 1 (hits 2, 3)
    v2t = {
        'R1': 50.0,
        'R5': 100.0,
        'R10': 100.0,
        'R20': 100.0,
        'mAP': 100 * ((1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2) / 2,
        'mINP': 100 * 2 / 3,
    }
    # thermal -> visible: the 4 queries rank their id 1st, 2nd, 2nd, 1st
    t2v = {'R1': 50.0, 'R5': 100.0, 'mAP': 75.0, 'mINP': 75.0}
    for setting, expected in (('visible2thermal', v2t),
                              ('thermal2visible', t2v)):
        for key, value in expected.items():
            assert metrics[f'{setting}/{key}'] == pytest.approx(value)
            assert metrics[f'{setting}/{key}_std'] == 0.0
    assert len(metrics) == 2 * 12


def test_sysu_end_to_end_hand_worked():
    # one RGB image per (id, camera): every single-shot trial is the same
    gallery = [
        sample(1, 2, RGB, 0, query=False),
        sample(2, 1, RGB, 20, query=False),
        sample(1, 4, RGB, 40, query=False),
        sample(2, 5, RGB, 120, query=False),
    ]
    queries = [
        sample(1, 3, IR, 0, gallery=False),
        sample(1, 6, IR, 0, gallery=False),
        sample(2, 6, IR, 100, gallery=False),
    ]
    metric = VIReIDMetric(protocol='sysu', num_trials=3)
    metrics = evaluate(metric, gallery + queries)
    # all-search: the cam3 query loses the cam2 image, ranks ids 2, 1, 2
    # (AP 1/2); the cam6 queries rank their id at 1 and 3 (AP 5/6, INP 2/3)
    assert metrics['all/R1'] == pytest.approx(100 * 2 / 3)
    assert metrics['all/R5'] == pytest.approx(100.0)
    assert metrics['all/mAP'] == pytest.approx(100 * 13 / 18)
    assert metrics['all/mINP'] == pytest.approx(100 * 11 / 18)
    assert metrics['all/R1_std'] == 0.0
    # indoor (cams 1, 2): the cam3 query has no match left and is skipped
    for key in ('R1', 'R20', 'mAP', 'mINP'):
        assert metrics[f'indoor/{key}'] == pytest.approx(100.0)


def test_llcm_trials_follow_seeded_draw():
    # NIR gallery of id 1: camera 1 (same camera as the query: removed),
    # camera 2 either a.jpg (close) or b.jpg (far), drawn per trial
    samples = [
        sample(1, 1, RGB, 0, gallery=False),
        sample(1, 1, IR, 0, name='nir/cam1/0001/x.jpg', query=False),
        sample(1, 2, IR, 90, name='nir/cam2/0001/b.jpg', query=False),
        sample(1, 2, IR, 10, name='nir/cam2/0001/a.jpg', query=False),
        sample(2, 2, IR, 45, name='nir/cam2/0002/c.jpg', query=False),
    ]
    settings = [dict(name='vis2nir', query_modality='rgb',
                     gallery_modality='ir', num_trials=3)]
    metric = VIReIDMetric(protocol='llcm', settings=settings, num_trials=10)
    metrics = evaluate(metric, samples)
    r1, ap = [], []
    for trial in range(3):
        rng = random.Random(trial)
        rng.choice(['x.jpg'])  # id 1, camera 1
        close = rng.choice(['a.jpg', 'b.jpg']) == 'a.jpg'  # id 1, camera 2
        r1.append(100.0 if close else 0.0)
        ap.append(100.0 if close else 50.0)
    assert 0 < sum(r1) < 300  # both cases occur over the three seeds
    assert metrics['vis2nir/R1'] == pytest.approx(np.mean(r1))
    assert metrics['vis2nir/R1_std'] == pytest.approx(np.std(r1))
    assert metrics['vis2nir/mAP'] == pytest.approx(np.mean(ap))
    assert metrics['vis2nir/mINP_std'] == pytest.approx(np.std(ap))


def test_cmc_ranks_reported():
    # 25 thermal images of ids 0..24 at 0, 2, ..., 48 degrees; visible
    # queries at -1 degree whose id sits at rank 1, 2, 5, 6, 10, 11, 20, 21
    ranks = [1, 2, 5, 6, 10, 11, 20, 21]
    samples = [sample(pid, 2, IR, 2 * pid, query=False) for pid in range(25)]
    samples += [sample(r - 1, 1, RGB, -1, gallery=False) for r in ranks]
    settings = [dict(name='v2t', query_modality=RGB, gallery_modality=IR,
                     gallery_mode='all')]
    metrics = evaluate(VIReIDMetric('regdb', settings=settings), samples)
    for k, expected in ((1, 1), (5, 3), (10, 5), (20, 7)):
        assert metrics[f'v2t/R{k}'] == pytest.approx(100 * expected / 8)
    mAP = 100 * np.mean([1 / r for r in ranks])
    assert metrics['v2t/mAP'] == pytest.approx(mAP)
    assert metrics['v2t/mINP'] == pytest.approx(mAP)


def test_through_evaluator_with_data_samples():
    samples = []
    for s in (sample(1, 1, RGB, 0), sample(2, 1, RGB, 90),
              sample(1, 2, IR, 20), sample(2, 2, IR, 60)):
        data_sample = DataSample()
        data_sample.set_field(s.pop('feature'), 'feature')
        data_sample.set_metainfo(s)
        samples.append(data_sample)
    evaluator = Evaluator(METRICS.build(dict(type='VIReIDMetric',
                                             protocol='regdb')))
    evaluator.process(samples[:2])
    evaluator.process(samples[2:])
    metrics = evaluator.evaluate(4)
    assert metrics['regdb/visible2thermal/R1'] == pytest.approx(100.0)
    assert metrics['regdb/thermal2visible/mAP'] == pytest.approx(100.0)


def test_logs_a_table(monkeypatch):
    messages = []
    monkeypatch.setattr(metric_module, 'print_log',
                        lambda msg, logger=None: messages.append(msg))
    evaluate(VIReIDMetric(protocol='regdb'), [
        sample(1, 1, RGB, 0),
        sample(2, 1, RGB, 90),
        sample(1, 2, IR, 20),
        sample(2, 2, IR, 60)
    ])
    table = messages[-1]
    assert 'mINP' in table
    assert 'visible2thermal' in table and 'thermal2visible' in table
    assert '100.00 ± 0.00' in table
    # plain text for the log file: no terminal escape codes, one line per
    # setting between the rules
    assert '\x1b' not in table
    lines = table.splitlines()
    assert len({len(line) for line in lines[1:]}) == 1
    assert [line.split('|')[1].strip() for line in lines
            if 'thermal' in line] == ['visible2thermal', 'thermal2visible']


def test_default_settings():
    for protocol, names in (('sysu', ['all', 'indoor']),
                            ('regdb', ['visible2thermal', 'thermal2visible']),
                            ('llcm', ['vis2nir', 'nir2vis'])):
        metric = VIReIDMetric(protocol=protocol, num_trials=4)
        assert [s['name'] for s in metric.settings] == names
        assert [s['num_trials'] for s in metric.settings] == (
            [1, 1] if protocol == 'regdb' else [4, 4])
    sysu = VIReIDMetric(protocol='sysu').settings
    assert [(s['query_modality'], s['gallery_modality'], s['gallery_cams'])
            for s in sysu] == [(IR, RGB, [1, 2, 4, 5]), (IR, RGB, [1, 2])]
    llcm = VIReIDMetric(protocol='llcm').settings
    assert [(s['query_modality'], s['gallery_modality'])
            for s in llcm] == [(RGB, IR), (IR, RGB)]


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(protocol='market'), ValueError, 'protocol must be one of'),
    (dict(num_trials=0), ValueError, 'num_trials must be a positive int'),
    (dict(settings=[]), ValueError, 'at least one setting'),
    (dict(settings=[dict(name='a', query_modality=1)]), ValueError,
     r"lacks \['gallery_modality'\]"),
    (dict(settings=[dict(name='a', query_modality=1, gallery_modality=0,
                         shots=3)]), ValueError, r"unknown keys \['shots'\]"),
    (dict(settings=[dict(name='a', query_modality='depth',
                         gallery_modality=0)]), ValueError,
     'query_modality must be RGB'),
    (dict(settings=[dict(name='a', query_modality=1, gallery_modality=0,
                         gallery_mode='few')]), ValueError,
     'gallery_mode must be one of'),
    (dict(settings=[dict(name='a', query_modality=1, gallery_modality=0)] *
          2), ValueError, 'distinct'),
    (dict(rerank=dict(k3=1)), ValueError, r"dict of \['k1', 'k2', "),
    (dict(rerank=dict(k1=0)), ValueError, 'k1 must be a positive int'),
    (dict(rerank=[20, 6]), ValueError, 'rerank must be None or a dict'),
    (dict(gallery_draw='matlab'), ValueError, 'gallery_draw must be one of'),
    (dict(protocol='llcm', gallery_draw='official'), ValueError,
     "needs protocol='sysu'"),
    (dict(gallery_draw='official', rand_perm_file='/nope/rand_perm_cam.mat'),
     FileNotFoundError, "'/nope/rand_perm_cam.mat': no such file"),
])
def test_bad_config_raises(kwargs, error, message):
    with pytest.raises(error, match=message):
        VIReIDMetric(**kwargs)


def test_bad_samples_raise():
    metric = VIReIDMetric(protocol='regdb')
    bad = sample(1, 1, RGB, 0)
    del bad['camid']
    with pytest.raises(KeyError, match="lacks field 'camid'"):
        metric.process({}, [bad])
    bad = sample(1, 1, RGB, 0)
    bad['feature'] = bad['feature'][None]
    with pytest.raises(ValueError, match=r"'feature' must be a \(D,\)"):
        metric.process({}, [bad])
    # no thermal image at all: the settings find no gallery / no queries
    with pytest.raises(ValueError, match='found 2 queries and 0 gallery'):
        evaluate(metric, [sample(1, 1, RGB, 0), sample(2, 1, RGB, 9)])


def sysu_test_tree(root):
    """Samples of a SYSU-MM01 test tree written under ``root`` (empty
    files): ids 1..4, 1-3 images per id per camera, features by id."""
    rng = np.random.default_rng(0)
    samples = []
    for camid in range(1, 7):
        for pid in range(1, 5):
            folder = osp.join(root, f'cam{camid}', f'{pid:04d}')
            os.makedirs(folder)
            for number in range(1, rng.integers(1, 4) + 1):
                path = osp.join(folder, f'{number:04d}.jpg')
                open(path, 'w').close()
                samples.append(
                    sample(pid, camid, IR if camid in (3, 6) else RGB,
                           pid * 40 + rng.normal(0, 25), name=path,
                           query=camid in (3, 6),
                           gallery=camid not in (3, 6)))
    return samples


def fields_of(samples):
    """Features (N, D) and protocol fields of samples, as the metric keeps
    them."""
    return torch.stack([s['feature'] for s in samples]), {
        key: np.array([s[key] for s in samples])
        for key in ('pid', 'camid', 'modality', 'is_query', 'is_gallery',
                    'img_path')
    }


def by_hand(samples, gallery, protocol='sysu', rerank=None):
    """eval_vireid of the IR queries against ``gallery`` (sample indices),
    1 - cos distances, optionally re-ranked: R1, mAP, mINP in percent."""
    feats = torch.nn.functional.normalize(
        torch.stack([s['feature'] for s in samples]), dim=1).numpy()
    queries = [i for i, s in enumerate(samples) if s['is_query']]
    dist = 1 - feats @ feats.T
    q_g = dist[np.ix_(queries, gallery)]
    if rerank:
        q_g = re_ranking(q_g, dist[np.ix_(queries, queries)],
                         dist[np.ix_(gallery, gallery)], **rerank)
    pids = np.array([s['pid'] for s in samples])
    camids = np.array([s['camid'] for s in samples])
    result = eval_vireid(q_g, pids[queries], pids[gallery], camids[queries],
                         camids[gallery], protocol)
    return [100 * result['cmc'][0], 100 * result['mAP'], 100 * result['mINP']]


def test_official_gallery_draw(tmp_path):
    samples = sysu_test_tree(str(tmp_path))
    write_rand_perm_cam(str(tmp_path), num_trials=3, seed=4)
    rand_perm = load_rand_perm_cam(str(tmp_path / 'exp' /
                                       'rand_perm_cam.mat'))
    metric = VIReIDMetric(gallery_draw='official', num_trials=3)
    metrics = evaluate(metric, samples)
    index = {(s['camid'], s['pid'],
              int(osp.basename(s['img_path'])[:4])): i
             for i, s in enumerate(samples)}
    for name, cams in (('all', [1, 2, 4, 5]), ('indoor', [1, 2])):
        scores = []
        for trial in range(3):
            # get_testing_set.m: camera by camera, ids ascending, the first
            # number of row `trial`
            gallery = [
                index[cam, pid, rand_perm[cam, pid][trial, 0]]
                for cam in cams for pid in range(1, 5)
                if (cam, pid) in rand_perm
            ]
            scores.append(by_hand(samples, gallery))
        for key, value in zip(('R1', 'mAP', 'mINP'), np.mean(scores, 0)):
            assert metrics[f'{name}/{key}'] == pytest.approx(value)
        assert metrics[f'{name}/mAP_std'] == pytest.approx(
            np.std(scores, 0)[1])
    random_draw = evaluate(VIReIDMetric(num_trials=3), samples)
    assert random_draw != metrics  # the draws differ

    # an absolute rand_perm_file; a missing relative one
    moved = str(tmp_path / 'perm.mat')
    os.rename(tmp_path / 'exp' / 'rand_perm_cam.mat', moved)
    assert evaluate(
        VIReIDMetric(gallery_draw='official', num_trials=3,
                     rand_perm_file=moved), samples) == metrics
    with pytest.raises(FileNotFoundError,
                       match=r"needs the official .*exp/rand_perm_cam.mat"):
        evaluate(VIReIDMetric(gallery_draw='official'), samples)
    # more trials than the file holds
    with pytest.raises(ValueError, match='hold 3 trials'):
        evaluate(VIReIDMetric(gallery_draw='official', rand_perm_file=moved),
                 samples)


def test_rerank(tmp_path):
    samples = sysu_test_tree(str(tmp_path))
    rerank = dict(k1=4, k2=2, lambda_value=0.2)
    metric = VIReIDMetric(num_trials=2, rerank=rerank)
    assert metric.rerank == rerank
    assert VIReIDMetric(rerank=dict(k1=3)).rerank == dict(k1=3, k2=6,
                                                          lambda_value=0.3)
    metrics = evaluate(metric, samples)
    plain_metric = VIReIDMetric(num_trials=2)
    plain = evaluate(plain_metric, samples)
    for setting in plain_metric.settings:
        scores = []
        # the seeded galleries, as the metric without re-ranking takes them
        for _, _, g_index, _ in plain_metric.rank_setting(
                setting, *fields_of(samples)):
            scores.append(by_hand(samples, g_index.tolist(), rerank=rerank))
        for key, value in zip(('R1', 'mAP', 'mINP'), np.mean(scores, 0)):
            assert metrics[f'{setting["name"]}/{key}'] == pytest.approx(value)
    assert metrics != plain


def test_per_query_records_and_rank_setting():
    # the hand-worked SYSU case of test_sysu_end_to_end_hand_worked
    gallery = [
        sample(1, 2, RGB, 0, query=False),
        sample(2, 1, RGB, 20, query=False),
        sample(1, 4, RGB, 40, query=False),
        sample(2, 5, RGB, 120, query=False),
    ]
    queries = [
        sample(1, 3, IR, 0, gallery=False),
        sample(1, 6, IR, 0, gallery=False),
        sample(2, 6, IR, 100, gallery=False),
    ]
    metric = VIReIDMetric(protocol='sysu', num_trials=2)
    assert metric.per_query_records() == []
    evaluate(metric, gallery + queries)
    records = metric.per_query_records()
    assert len(records) == 2 * 2 * 3  # settings x trials x queries
    assert [(r['setting'], r['trial']) for r in records[::3]] == [
        ('all', 0), ('all', 1), ('indoor', 0), ('indoor', 1)]
    first = records[:3]
    assert [r['img_path'] for r in first] == [
        'cam3/0001/0.jpg', 'cam6/0001/0.jpg', 'cam6/0002/100.jpg']
    assert [(r['pid'], r['camid'])
            for r in first] == [(1, 3), (1, 6), (2, 6)]
    # all-search: the cam3 query ranks ids 2, 1, 2 (its cam2 image goes);
    # the cam6 queries rank their id first, then at 3
    assert [r['valid'] for r in first] == [True, True, True]
    assert [r['ap'] for r in first] == pytest.approx([1 / 2, 5 / 6, 5 / 6])
    assert [r['inp'] for r in first] == pytest.approx([1 / 2, 2 / 3, 2 / 3])
    assert [r['first_match_rank'] for r in first] == [2, 1, 1]
    # indoor (cams 1, 2): the cam3 query has no match left
    assert records[6] == dict(setting='indoor', trial=0,
                              img_path='cam3/0001/0.jpg', pid=1, camid=3,
                              valid=False, ap=None, inp=None,
                              first_match_rank=None)

    features, fields = fields_of(gallery + queries)
    (trial, q_index, g_index, ranked), = metric.rank_setting(
        metric.settings[0], features, fields, trials=[1], topk=2)
    assert trial == 1 and q_index.tolist() == [4, 5, 6]
    assert sorted(g_index.tolist()) == [0, 1, 2, 3]
    assert g_index[ranked['index'][0]].tolist() == [1, 2]  # ids 2, 1
    assert ranked['match'][0].tolist() == [False, True]
    with pytest.raises(ValueError, match=r"'all' has trials 0..1, got"):
        next(metric.rank_setting(metric.settings[0], features, fields,
                                 trials=[2]))


def test_ranked_lists_kept_for_the_visualization():
    # the hand-worked SYSU case of test_sysu_end_to_end_hand_worked
    gallery = [
        sample(1, 2, RGB, 0, query=False),
        sample(2, 1, RGB, 20, query=False),
        sample(1, 4, RGB, 40, query=False),
        sample(2, 5, RGB, 120, query=False),
    ]
    queries = [
        sample(1, 3, IR, 0, gallery=False),
        sample(2, 6, IR, 100, gallery=False),
    ]
    plain = VIReIDMetric(protocol='sysu', num_trials=1)
    evaluate(plain, gallery + queries)
    with pytest.raises(RuntimeError, match='keep_topk > 0'):
        plain.ranked_lists()
    metric = VIReIDMetric(protocol='sysu', num_trials=1, keep_topk=5)
    assert metric.ranked_lists() == []
    metrics = evaluate(metric, gallery + queries)
    assert metrics == evaluate(plain, gallery + queries)
    lists = metric.ranked_lists()
    assert [(x['setting'], x['trial']) for x in lists] == [('all', 0),
                                                           ('indoor', 0)]
    first = lists[0]
    assert first['query'].tolist() == [4, 5]
    assert first['img_path'][4] == 'cam3/0001/0.jpg'
    # all-search, one image per id and camera: the cam3 query at 0 degrees
    # loses its cam2 image and ranks the cam1 id-2 image (20 degrees), the
    # cam4 id-1 image (40), the cam5 id-2 image (120); -1 past the end
    # (K = min(keep_topk, G) = 4)
    assert first['gallery'][0].tolist() == [1, 2, 3, -1]
    assert first['match'][0].tolist()[:3] == [False, True, False]
    np.testing.assert_allclose(
        first['distance'][0][:3],
        [1 - math.cos(math.radians(d)) for d in (20, 40, 120)], atol=1e-6)
    assert first['ap'][0] == pytest.approx(1 / 2)
    # indoor (cams 1, 2): the cam3 query has no true match left
    assert not lists[1]['valid'][0] and lists[1]['gallery'][0][0] == 1
    with pytest.raises(ValueError, match='keep_topk'):
        VIReIDMetric(keep_topk=-1)
