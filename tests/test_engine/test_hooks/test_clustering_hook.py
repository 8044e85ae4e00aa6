import glob
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import Compose, pseudo_collate
from mmengine.hooks import Hook
from mmengine.runner import Runner
from PIL import Image

from mmvireid.clustering import (association_mappings, clustering_ari,
                                 cross_modal_pseudo_labels, pseudo_labels)
from mmvireid.engine.hooks import ClusteringHook
from mmvireid.structures import IR, RGB


class Spy(Hook):
    """Record, after the other hooks, what the first iteration of every
    epoch trains with."""

    def __init__(self):
        self.states = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if batch_idx:
            return
        head = runner.model.head
        dataset = runner.train_dataloader.dataset
        self.states.append(
            dict(
                epoch=runner.epoch,
                labels=dataset.pseudo_labels.copy(),
                iterator=runner.train_loop.dataloader._iterator,
                batch=[(s.sample_idx, s.pseudo_label)
                       for s in data_batch['data_samples']],
                buffers={
                    key: value.clone()
                    for key, value in head.state_dict().items()
                    if 'bnneck' not in key
                },
                lam=head.progress_weight,
                model={
                    key: value.clone()
                    for key, value in runner.model.state_dict().items()
                }))


def train(cfg, spy=None):
    runner = Runner.from_cfg(cfg)
    if spy is not None:
        runner.register_hook(spy, priority='LOWEST')
    runner.train()
    return runner


def clustering_hook(runner):
    return next(h for h in runner.hooks if isinstance(h, ClusteringHook))


def log_text(runner):
    path = glob.glob(osp.join(runner.log_dir, '*.log'))[0]
    with open(path) as f:
        return f.read()


@pytest.mark.e2e
def test_relabels_restarts_the_loader_and_rebuilds_memories(
        unsup_cfg, monkeypatch):
    # record what the hook clusters: the clustering itself is tested in
    # tests/test_clustering, and an untrained model's features are so close
    # together that re-clustering a re-normalised copy of them can flip kNN
    # ties
    calls = []

    def recording_pseudo_labels(features, **kwargs):
        labels, timings = pseudo_labels(features, **kwargs)
        calls.append((features.clone(), labels.copy(), kwargs))
        return labels, timings

    monkeypatch.setattr(
        'mmvireid.clustering.cross_modal.modality_pseudo_labels',
        recording_pseudo_labels)
    cfg = unsup_cfg(max_epochs=2)
    # persistent workers hold a copy of the dataset: the hook must restart
    # them
    cfg.train_dataloader.update(num_workers=1, persistent_workers=True)
    spy = Spy()
    runner = train(cfg, spy)
    hook = clustering_hook(runner)
    dataset = runner.train_dataloader.dataset
    modalities = dataset.modalities
    assert len(spy.states) == 2
    # the loader was restarted (new workers), and the batches carry the new
    # labels
    assert spy.states[1]['iterator'] is not spy.states[0]['iterator']
    for state in spy.states:
        assert all(label == state['labels'][idx]
                   for idx, label in state['batch'])

    # the features are the test features of the model of epoch 1 (before
    # it trained), in dataset order
    head = runner.model.head
    feats = spy.states[1]['buffers']['memory.instance_memory.features']
    pipeline = Compose(cfg.custom_hooks[0].pipeline)
    model = runner.model.eval()
    model.load_state_dict(spy.states[1]['model'])
    for idx in (0, len(dataset) - 1):
        item = pipeline(dict(dataset.get_data_info(idx)))
        expected = model.test_step(pseudo_collate([item]))[0].feature
        torch.testing.assert_close(feats[idx], expected)
    # labels are the per-modality clustering of these features
    labels = spy.states[1]['labels']
    # the second epoch's clustering: RGB then IR
    for modality, (clustered, expected, kwargs) in zip((RGB, IR), calls[2:]):
        members = np.flatnonzero(modalities == modality)
        assert kwargs == hook.cluster_cfg
        torch.testing.assert_close(clustered, feats[members])
        assert np.array_equal(labels[members], expected)
        num_clusters = int(expected.max()) + 1
        assert num_clusters >= 1
        # the memory holds one normalised mean per cluster (before epoch 1
        # trained on it)
        bank = spy.states[1]['buffers'][f'memory.cluster_memories.{modality}'
                                        '.features']
        assert bank.shape == (num_clusters, 512)
        for cluster in range(num_clusters):
            mean = feats[members[expected == cluster]].mean(0)
            torch.testing.assert_close(bank[cluster], F.normalize(mean, dim=0))
    # the model holds them: the memory's pseudo-labels and association
    assert torch.equal(head.memory.pseudo_labels, torch.from_numpy(labels))
    pairs = np.array([[rgb, ir]
                      for rgb, ir in enumerate(head.memory.rgb_to_ir.tolist())
                      if ir >= 0])

    # statistics reach the log and the visualizer's backends
    text = log_text(runner)
    assert 'ClusteringHook: epoch 0: num_clusters_rgb' in text
    assert 'ClusteringHook: epoch 1:' in text
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        scalars = [json.loads(line) for line in f]
    logged = [s for s in scalars if 'clustering/ari' in s]
    assert [s['step'] for s in logged] == [0, 2]
    assert logged[1]['clustering/ari'] == pytest.approx(
        clustering_ari(dataset.pids, modalities, labels, pairs)['ari'])
    for key in ('num_clusters_rgb', 'outliers_ir', 'matched_pairs',
                'time_extract', 'time_cluster', 'ari_rgb', 'ari_ir'):
        assert f'clustering/{key}' in logged[1]
    assert logged[1]['clustering/num_clusters_ir'] == int(
        labels[modalities == IR].max()) + 1

    # after training: the history of both clusterings, as logged, in
    # <log_dir>/clustering_stats.json, and its plot
    with open(osp.join(runner.log_dir, 'clustering_stats.json')) as f:
        history = json.load(f)
    assert [record['epoch'] for record in history] == [0, 1]
    for record, scalars in zip(history, logged):
        assert {f'clustering/{k}': v
                for k, v in record.items() if k != 'epoch'} == {
                    k: v for k, v in scalars.items() if k != 'step'}
    with Image.open(osp.join(runner.log_dir, 'clustering_stats.png')) as img:
        assert img.format == 'PNG'


@pytest.mark.e2e
def test_no_cluster_warns_and_training_goes_on(unsup_cfg):
    # min_samples above the number of images: every image is an outlier
    cfg = unsup_cfg(min_samples=100)
    spy = Spy()
    runner = train(cfg, spy)
    text = log_text(runner)
    num_rgb, num_ir = (int((runner.train_dataloader.dataset.modalities ==
                            modality).sum()) for modality in (RGB, IR))
    assert f'no rgb cluster (all {num_rgb} rgb images are outliers)' in text
    assert f'no ir cluster (all {num_ir} ir images are outliers)' in text
    assert 'Epoch(train) [1][2/2]' in text
    memory = runner.model.head.memory
    assert memory.num_clusters(RGB) == memory.num_clusters(IR) == 0
    assert (spy.states[0]['labels'] == -1).all()
    assert all(label == -1 for _, label in spy.states[0]['batch'])


@pytest.mark.parametrize('argument, value, message', [
    ('interval', 0, 'interval must be an int >= 1'),
    ('interval', True, 'interval must be an int >= 1'),
    ('k1', 0, r'k1 must be an int >= 1 \(the size of the k-reciprocal'),
    ('k2', 0, 'k2 must be an int >= 1'),
    ('k2', 2.0, 'k2 must be an int >= 1'),
    ('eps', -1, r'eps must be a number in \(0, 1\)'),
    ('eps', 1.0, r'eps must be a number in \(0, 1\)'),
    ('min_samples', 0, 'min_samples must be an int >= 1'),
    ('knn_backend', 'gpu', 'knn_backend must be one of'),
    ('association', 'greedy', 'association must be one of'),
    ('association', dict(type='adca', symmetric=True),
     r"association 'adca' takes \['threshold', 'block_size'\]"),
    ('flip_fusion', 'mean', 'flip_fusion must be one of'),
])
def test_arguments_are_checked_when_built(argument, value, message):
    with pytest.raises(ValueError, match=f'ClusteringHook: {message}.*got'):
        ClusteringHook(pipeline=[], **{argument: value})


@pytest.mark.e2e
def test_association_and_flip_fusion_reach_the_clustering(
        unsup_cfg, monkeypatch):
    import mmvireid.engine.hooks.clustering_hook as module
    calls = {}

    def recording(name, function):

        def record(*args, **kwargs):
            result = function(*args, **kwargs)
            calls[name] = (kwargs, result)
            return result

        monkeypatch.setattr(module, name, record)

    recording('extract_features', module.extract_features)
    recording('cross_modal_pseudo_labels', module.cross_modal_pseudo_labels)
    association = dict(type='pgm', symmetric=True)
    runner = train(
        unsup_cfg(association=association, flip_fusion='mean_of_normalized'))
    kwargs, data = calls['extract_features']
    assert kwargs['flip_fusion'] == 'mean_of_normalized'
    norms = data['features'].norm(dim=1)
    assert (norms <= 1 + 1e-6).all() and (norms < 1 - 1e-6).any()
    kwargs, result = calls['cross_modal_pseudo_labels']
    assert kwargs['association'] == association
    memory = runner.model.head.memory
    rgb_to_ir, ir_to_rgb = association_mappings(
        result.pairs, memory.num_clusters(RGB), memory.num_clusters(IR))
    assert torch.equal(memory.rgb_to_ir, rgb_to_ir)
    assert torch.equal(memory.ir_to_rgb, ir_to_rgb)


@pytest.mark.e2e
def test_clustering_time_stays_out_of_the_iteration_timer(
        unsup_cfg, monkeypatch):
    # IterTimerHook reads a clock that only the clustering moves (by 1000
    # s): the first iteration's data_time shows whether the hook ran inside
    # the timed part of the epoch
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr('mmengine.hooks.iter_timer_hook.time',
                        SimpleNamespace(time=lambda: clock.now))

    def slow_clustering(*args, **kwargs):
        clock.now += 1000
        return cross_modal_pseudo_labels(*args, **kwargs)

    monkeypatch.setattr(
        'mmvireid.engine.hooks.clustering_hook.cross_modal_pseudo_labels',
        slow_clustering)
    runner = train(unsup_cfg(max_epochs=1))
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        scalars = [json.loads(line) for line in f]
    iterations = [s for s in scalars if 'data_time' in s]
    assert [s['step'] for s in iterations] == [1, 2]
    assert all(s['data_time'] < 1000 and s['time'] < 1000
               for s in iterations)
    # extraction and clustering are figures of their own
    clustering = [s for s in scalars if 'clustering/time_cluster' in s]
    assert len(clustering) == 1
    assert 'clustering/time_extract' in clustering[0]


@pytest.mark.e2e
def test_resume_continues_as_an_uninterrupted_run(unsup_cfg):
    # clustering every 2 epochs: epoch 1 trains on the labels and memories
    # of epoch 0, which only the checkpoint can give back
    whole = Spy()
    text = log_text(
        train(unsup_cfg(max_epochs=2, work_dir='whole', interval=2), whole))
    assert 'ClusteringHook: epoch 0:' in text
    assert 'ClusteringHook: epoch 1:' not in text
    first = train(unsup_cfg(max_epochs=1, work_dir='part', interval=2))
    resumed = Spy()
    cfg = unsup_cfg(max_epochs=2, work_dir='resumed', interval=2)
    cfg.resume = True
    cfg.load_from = osp.join(first.work_dir, 'epoch_1.pth')
    runner = train(cfg, resumed)
    assert 'pseudo-labels restored from the checkpoint' in log_text(runner)
    # the labels live once, in the model's state dict
    checkpoint = torch.load(cfg.load_from)
    assert set(checkpoint['clustering']) == {'history'}
    assert checkpoint['state_dict']['head.memory.pseudo_labels'].numel()
    # the statistics history came back too: the resumed run's plot covers
    # the clustering of epoch 0, done before the interruption
    assert clustering_hook(runner).history == clustering_hook(
        first).history
    assert [r['epoch'] for r in clustering_hook(runner).history] == [0]
    assert osp.exists(osp.join(runner.log_dir, 'clustering_stats.png'))

    expected, got = whole.states[1], resumed.states[0]
    assert got['epoch'] == expected['epoch'] == 1
    assert np.array_equal(got['labels'], expected['labels'])
    assert got['batch'] == expected['batch']
    ramp_epochs = cfg.model.head.progressive.ramp_epochs
    assert got['lam'] == expected['lam'] == pytest.approx(1 / ramp_epochs)
    assert set(got['buffers']) == set(expected['buffers'])
    for key, value in expected['buffers'].items():
        assert torch.equal(got['buffers'][key], value), key
    # the memories have trained during epoch 0 (not a fresh clustering)
    centroid = expected['buffers']['memory.cluster_memories.0.features'][0]
    members = expected['labels'] == 0
    members[expected['buffers']['memory.modalities'].numpy() != RGB] = False
    fresh = F.normalize(
        expected['buffers']['memory.instance_memory.features'][members].mean(
            0),
        dim=0)
    assert not torch.allclose(centroid, fresh)
