import numpy as np
import pytest
from mmengine.runner import Runner

import mmvireid.datasets.samplers.cross_modality_identity_sampler as module
from mmvireid.datasets import IR, RGB
from mmvireid.registry import DATA_SAMPLERS

P, K = 2, 3
# RGB items 0..11: clusters 0 (4 images), 1 (3), 2 (2, fewer than K), and
# 3 outliers; IR items 12..21: clusters 0 (5), 1 (3), 2 outliers. RGB
# cluster 0 and IR cluster 0 are different people.
RGB_LABELS = [0, 0, 0, 0, 1, 1, 1, 2, 2, -1, -1, -1]
IR_LABELS = [1, 0, 0, 1, 0, 0, 1, 0, -1, -1]


class Labelled:
    """What the sampler reads of a dataset: modalities and pseudo_labels."""

    def __init__(self, modalities, pseudo_labels):
        self.modalities = np.array(modalities)
        self.pseudo_labels = None if pseudo_labels is None else np.array(
            pseudo_labels)

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


def test_batch_composition_per_modality():
    dataset = make_dataset()
    labels = dataset.pseudo_labels
    sampler = build(dataset, iters_per_epoch=30)
    assert sampler.batch_size == P * 2 * K == 12
    seen = set()
    for batch in batches(sampler):
        rgb, ir = batch[:P * K], batch[P * K:]
        assert (dataset.modalities[rgb] == RGB).all()
        assert (dataset.modalities[ir] == IR).all()
        for half in (rgb, ir):
            groups = half.reshape(P, K)
            # one cluster per group of K, P distinct clusters, no outlier
            group_labels = labels[groups]
            assert (group_labels == group_labels[:, :1]).all()
            assert len(set(group_labels[:, 0])) == P
            assert (group_labels >= 0).all()
            for group in groups:
                cluster = labels[group[0]]
                members = np.flatnonzero(
                    (labels == cluster)
                    & (dataset.modalities == dataset.modalities[group[0]]))
                # without replacement when the cluster has K images or more
                if len(members) >= K:
                    assert len(set(group)) == K
                assert set(group) <= set(members.tolist())
        seen.update(batch.tolist())
    # every clustered image is drawn at some point, outliers never
    assert seen == set(np.flatnonzero(labels >= 0).tolist())


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
