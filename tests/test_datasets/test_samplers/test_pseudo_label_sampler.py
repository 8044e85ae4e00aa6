import logging

import numpy as np
import pytest
from mmengine.runner import Runner

import mmvireid.datasets.samplers.cross_modality_identity_sampler as module
import mmvireid.datasets.samplers.pseudo_label_sampler as sampler_module
from mmvireid.registry import DATA_SAMPLERS
from mmvireid.structures import IR, RGB

P, K = 2, 3
# RGB items 0..11: clusters 0 (4 images), 1 (3), 2 (2, fewer than K), and
# 3 outliers; IR items 12..21: clusters 0 (5), 1 (3), 2 outliers. RGB
# cluster 0 and IR cluster 0 are different people.
RGB_LABELS = [0, 0, 0, 0, 1, 1, 1, 2, 2, -1, -1, -1]
IR_LABELS = [1, 0, 0, 1, 0, 0, 1, 0, -1, -1]


class Labelled:
    """What the sampler reads of a dataset: modalities, camids and
    pseudo_labels."""

    def __init__(self, modalities, pseudo_labels, camids=None):
        self.modalities = np.array(modalities)
        self.pseudo_labels = None if pseudo_labels is None else np.array(
            pseudo_labels)
        self.camids = np.ones(len(modalities), dtype=np.int64) \
            if camids is None else np.array(camids)

    def __len__(self):
        return len(self.modalities)

    def get_data_info(self, idx):
        info = dict(modality=int(self.modalities[idx]))
        if self.pseudo_labels is not None:
            info['pseudo_label'] = int(self.pseudo_labels[idx])
        return info


def make_dataset(rgb_labels=RGB_LABELS, ir_labels=IR_LABELS):
    return Labelled([RGB] * len(rgb_labels) + [IR] * len(ir_labels),
                    list(rgb_labels) + list(ir_labels))


def build(dataset, **cfg):
    cfg = dict(dict(num_pids=P, num_instances=K, seed=0), **cfg)
    return DATA_SAMPLERS.build(
        dict(type='PseudoLabelSampler', dataset=dataset, **cfg))


def batches(sampler):
    indices = list(sampler)
    assert len(indices) == len(sampler)
    return np.array(indices).reshape(-1, sampler.batch_size)


def groups_of(batch, sampler):
    """The (P_m, K) groups of each modality's part of a batch."""
    num_rgb = sampler.num_pids[RGB] * K
    return (batch[:num_rgb].reshape(-1, K), batch[num_rgb:].reshape(-1, K))


def test_batch_composition_per_modality():
    dataset = make_dataset()
    labels = dataset.pseudo_labels
    sampler = build(dataset, iters_per_epoch=30)
    assert sampler.batch_size == P * 2 * K == 12
    seen = set()
    for batch in batches(sampler):
        for modality, groups in zip((RGB, IR), groups_of(batch, sampler)):
            assert (dataset.modalities[groups] == modality).all()
            # one cluster per group of K, no outlier
            group_labels = labels[groups]
            assert (group_labels == group_labels[:, :1]).all()
            assert (group_labels >= 0).all()
            for group in groups:
                members = np.flatnonzero((labels == labels[group[0]])
                                         & (dataset.modalities == modality))
                assert set(group) <= set(members.tolist())
                # the anchor and K - 1 others: distinct when the cluster
                # has K others, the anchor never repeated when it has any
                if len(members) > K:
                    assert len(set(group)) == K
                if len(members) > 1:
                    assert group[0] not in group[1:]
        seen.update(batch.tolist())
    # every clustered image is drawn at some point, outliers never
    assert seen == set(np.flatnonzero(labels >= 0).tolist())


def test_per_batch_draw():
    """cluster_draw='per_batch': P distinct clusters in every batch, K
    distinct images of each when it has K (cluster 2 of RGB has 2 < K: the
    only one repeated), no outlier; over many batches every cluster and
    every clustered image comes up; reproducible from seed and epoch."""
    dataset = make_dataset()
    labels = dataset.pseudo_labels
    sampler = build(dataset, iters_per_epoch=200, cluster_draw='per_batch')
    seen, pairs = set(), set()
    for batch in batches(sampler):
        for modality, groups in zip((RGB, IR), groups_of(batch, sampler)):
            assert (dataset.modalities[groups] == modality).all()
            group_labels = labels[groups]
            assert (group_labels == group_labels[:, :1]).all()
            assert (group_labels >= 0).all()
            # P distinct clusters in the batch (each modality has >= P)
            assert len(set(group_labels[:, 0].tolist())) == P
            for group in groups:
                size = np.sum((labels == labels[group[0]])
                              & (dataset.modalities == modality))
                if size >= K:
                    assert len(set(group.tolist())) == K
                pairs.add((modality, int(labels[group[0]])))
        seen.update(batch.tolist())
    assert seen == set(np.flatnonzero(labels >= 0).tolist())
    assert pairs == {(RGB, 0), (RGB, 1), (RGB, 2), (IR, 0), (IR, 1)}
    again = build(dataset, iters_per_epoch=200, cluster_draw='per_batch')
    assert list(again) == list(sampler)


def test_passes_draw_every_cluster_at_sysu_like_counts():
    # SYSU-MM01 after a clustering: 22,258 RGB images in 898 clusters,
    # 11,909 IR images in 444, ~10 % outliers; 200 iterations of 8 clusters
    # x 16 images per modality (1,600 slots per modality and epoch).
    rng = np.random.default_rng(0)

    def labels(num, clusters):
        found = np.concatenate(
            [np.arange(clusters),
             rng.integers(clusters, size=num - clusters)])
        found[clusters:][rng.random(num - clusters) < 0.1] = -1
        return rng.permutation(found)

    rgb, ir = labels(22258, 898), labels(11909, 444)
    dataset = Labelled([RGB] * len(rgb) + [IR] * len(ir),
                       np.concatenate([rgb, ir]),
                       rng.integers(1, 7, size=len(rgb) + len(ir)))
    for camera_aware in (False, True):
        sampler = build(dataset, num_pids=8, num_instances=16,
                        iters_per_epoch=200, camera_aware=camera_aware)
        for epoch in range(2):
            sampler.set_epoch(epoch)
            drawn = batches(sampler)
            for modality, part, clusters in ((RGB, drawn[:, :128], 898),
                                             (IR, drawn[:, 128:], 444)):
                assert (dataset.modalities[part] == modality).all()
                found = dataset.pseudo_labels[part]
                assert (found >= 0).all()
                assert np.array_equal(np.unique(found), np.arange(clusters))
                # consecutive passes: each window of C slots after a pass
                # boundary holds every cluster once
                firsts = found.reshape(-1, 16)[:, 0]
                assert np.array_equal(np.sort(firsts[:clusters]),
                                      np.arange(clusters))


def test_short_epoch_warns_and_draws_distinct_clusters(monkeypatch):
    logged = []
    monkeypatch.setattr(sampler_module, 'print_log',
                        lambda msg, **kwargs: logged.append((msg, kwargs)))
    # 3 RGB clusters, P = 2, one batch: one pass cannot fit
    dataset = make_dataset()
    sampler = build(dataset, iters_per_epoch=1)
    batch = batches(sampler)[0]
    (message, kwargs), = logged
    assert kwargs['level'] == logging.WARNING
    assert '3 RGB clusters but an epoch draws 2' in message
    assert 'set iters_per_epoch >= 2' in message
    rgb, _ = groups_of(batch, sampler)
    assert len(set(dataset.pseudo_labels[rgb[:, 0]])) == 2
    list(build(dataset, iters_per_epoch=2))
    assert len(logged) == 1


def test_per_modality_num_pids():
    dataset = make_dataset()
    sampler = build(dataset, num_pids=dict(rgb=1, ir=2), iters_per_epoch=4)
    assert sampler.num_pids == (1, 2)
    assert sampler.batch_size == (1 + 2) * K
    for batch in batches(sampler):
        rgb, ir = groups_of(batch, sampler)
        assert rgb.shape == (1, K) and ir.shape == (2, K)
        assert (dataset.modalities[rgb] == RGB).all()
        assert (dataset.modalities[ir] == IR).all()
    # default length: the larger ceil(#images / (P_m * K)): 12 / 3, 10 / 6
    assert build(dataset, num_pids=dict(rgb=1, ir=2)).iters_per_epoch == 4
    with pytest.raises(ValueError, match='must give both modalities'):
        build(dataset, num_pids=dict(rgb=2))
    with pytest.raises(ValueError, match='a key of num_pids'):
        build(dataset, num_pids=dict(rgb=2, depth=2))
    with pytest.raises(ValueError, match=r'train_dataloader.batch_size=12 '
                       r'does not match.*RGB 1 \+ IR 2\) x '
                       r'sampler.num_instances \(3\) = 9 items'):
        sampler.check_batch_size(12)


def test_camera_aware_companions_come_from_other_cameras():
    # RGB cluster 0: cams 1, 1, 2, 2, 2, 3; cluster 1: one camera only;
    # cluster 2: one image. IR cluster 0: cams 1, 2.
    rgb_labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2]
    rgb_cams = [1, 1, 2, 2, 2, 3, 4, 4, 4, 5]
    dataset = Labelled([RGB] * 10 + [IR] * 4, rgb_labels + [0, 0, 0, 0],
                       rgb_cams + [3, 6, 3, 6])
    cams = dataset.camids
    k = 4
    sampler = build(dataset, num_pids=1, num_instances=k,
                    iters_per_epoch=60, camera_aware=True)
    anchors_seen = set()
    for batch in batches(sampler):
        rgb, ir = batch[:k], batch[k:]
        anchor, others = rgb[0], rgb[1:]
        anchors_seen.add(anchor)
        label = dataset.pseudo_labels[anchor]
        if label == 0:
            # companions from the cameras other than the anchor's
            assert (cams[others] != cams[anchor]).all()
            candidates = np.flatnonzero((np.array(rgb_labels) == 0)
                                        & (np.array(rgb_cams)
                                           != cams[anchor]))
            assert set(others) <= set(candidates.tolist())
        elif label == 1:
            # one camera: the other members, never the anchor itself
            assert anchor not in others
            assert set(others) <= {6, 7, 8}
        else:
            assert (rgb == 9).all()  # a one-image cluster repeats it
        assert (cams[ir[1:]] != cams[ir[0]]).all()
    assert anchors_seen == set(range(10))
    # without cameras: any other member of the cluster
    plain = build(dataset, num_pids=1, num_instances=k, iters_per_epoch=60)
    mixed = [
        b for b in batches(plain)
        if dataset.pseudo_labels[b[0]] == 0 and (cams[b[1:k]] == cams[b[0]]
                                                 ).any()
    ]
    assert mixed


def test_companions_without_replacement_from_k_candidates():
    # 6 other-camera members >= K = 4: the 3 companions are distinct; 3
    # candidates < K: drawn with replacement, as the community's sampler
    labels = [0] * 7 + [1] * 4
    cams = [1] + [2] * 6 + [1, 2, 3, 4]
    dataset = Labelled([RGB] * 11 + [IR] * 2, labels + [0, 0],
                       cams + [3, 6])
    sampler = build(dataset, num_pids=1, num_instances=4,
                    iters_per_epoch=200, camera_aware=True)
    repeats = {0: 0, 1: 0}
    for batch in batches(sampler):
        rgb = batch[:4]
        label = dataset.pseudo_labels[rgb[0]]
        if label == 0 and rgb[0] == 0:
            assert len(set(rgb[1:])) == 3
        repeats[label] += len(set(rgb[1:])) < 3
    assert repeats[1] > 0


def test_fixed_length_whatever_the_labels():
    # 12 RGB and 10 IR images; P * K = 6 per modality -> ceil(12 / 6) = 2
    sampler = build(Labelled([RGB] * 12 + [IR] * 10, None))
    assert len(sampler) == 2 * 12
    assert len(build(make_dataset(), iters_per_epoch=7)) == 7 * 12
    with pytest.raises(KeyError, match='assign pseudo-labels'):
        list(sampler)


def test_deterministic_from_seed_and_epoch():
    dataset = make_dataset()
    first = list(build(dataset))
    assert list(build(dataset)) == first
    assert list(build(dataset, seed=1)) != first
    sampler = build(dataset)
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_ranks_take_their_share_of_one_global_draw(monkeypatch):
    dataset = make_dataset()
    whole = batches(build(dataset, iters_per_epoch=8))
    shares = []
    for rank in range(2):
        monkeypatch.setattr(module, 'get_dist_info', lambda r=rank: (r, 2))
        sampler = build(dataset, iters_per_epoch=4)
        shares.append(batches(sampler))
    assert np.array_equal(shares[0], whole[0::2])
    assert np.array_equal(shares[1], whole[1::2])
    assert not np.array_equal(shares[0], shares[1])


def test_labels_are_read_at_every_epoch():
    dataset = make_dataset()
    sampler = build(dataset, iters_per_epoch=20)
    dataset.pseudo_labels = np.array([5, 5, 5, 6, 6, 6] + [-1] * 6 +
                                     [-1] * 4 + [7, 7, 7, 8, 8, 8])
    drawn = set(list(sampler))
    assert drawn == {0, 1, 2, 3, 4, 5, 16, 17, 18, 19, 20, 21}


def test_fewer_clusters_than_p_repeat_clusters():
    # one IR cluster only: both IR groups of a batch come from it
    dataset = make_dataset(ir_labels=[0, 0, 0, 0, -1, -1])
    for batch in batches(build(dataset, iters_per_epoch=5)):
        ir = batch[P * K:]
        assert set(ir.tolist()) <= {12, 13, 14, 15}


def test_a_modality_without_cluster_gives_random_images():
    # every IR image an outlier: the IR half holds P * K distinct IR images
    # (the instance-level losses still use them)
    dataset = make_dataset(ir_labels=[-1] * 10)
    seen = set()
    for batch in batches(build(dataset, iters_per_epoch=10)):
        ir = batch[P * K:]
        assert (dataset.modalities[ir] == IR).all()
        assert len(set(ir.tolist())) == P * K
        seen.update(ir.tolist())
    assert seen == set(range(12, 22))
    # fewer images than P * K: drawn with replacement
    small = make_dataset(ir_labels=[-1] * 4)
    for batch in batches(build(small, iters_per_epoch=3)):
        assert set(batch[P * K:].tolist()) <= {12, 13, 14, 15}


def test_errors():
    with pytest.raises(ValueError, match='no IR image'):
        build(Labelled([RGB] * 4, [0] * 4))
    with pytest.raises(ValueError, match='PseudoLabelSampler: num_pids'):
        build(make_dataset(), num_pids=0)
    with pytest.raises(ValueError, match='PseudoLabelSampler: num_pids'):
        build(make_dataset(), num_pids=dict(rgb=2, ir=True))
    with pytest.raises(ValueError, match="cluster_draw must be one of "
                       r"\('passes', 'per_batch'\), got 'uniform'"):
        build(make_dataset(), cluster_draw='uniform')
    with pytest.raises(ValueError, match='camera_aware'):
        build(make_dataset(), cluster_draw='per_batch', camera_aware=True)


def test_through_mmengine_data_loader():
    dataset = make_dataset()

    class Items(Labelled):

        def __getitem__(self, idx):
            return dict(idx=idx, modality=int(self.modalities[idx]))

    items = Items(dataset.modalities, dataset.pseudo_labels)
    loader = Runner.build_dataloader(
        dict(
            batch_size=P * 2 * K,
            num_workers=0,
            sampler=dict(
                type='PseudoLabelSampler',
                num_pids=P,
                num_instances=K,
                iters_per_epoch=3),
            collate_fn=dict(type='pseudo_collate'),
            dataset=items),
        seed=3)
    assert len(loader) == 3
    for batch in loader:
        assert batch['modality'] == [RGB] * 6 + [IR] * 6
