import importlib
import math
import random

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mmvireid.datasets.base_vireid_dataset import IR, RGB
from mmvireid.evaluation import VIReIDMetric
from mmvireid.registry import METRICS

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
    (dict(settings=[dict(name='a', query_modality='nir',
                         gallery_modality=0)]), ValueError,
     'query_modality must be one of'),
    (dict(settings=[dict(name='a', query_modality=1, gallery_modality=0,
                         gallery_mode='few')]), ValueError,
     'gallery_mode must be one of'),
    (dict(settings=[dict(name='a', query_modality=1, gallery_modality=0)] *
          2), ValueError, 'distinct'),
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
