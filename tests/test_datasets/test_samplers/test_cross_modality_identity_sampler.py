from collections import Counter

import numpy as np
import pytest
from mmengine.runner import Runner

import mmvireid.datasets.samplers.cross_modality_identity_sampler as module
from mmvireid.datasets import BaseVIReIDDataset
from mmvireid.registry import DATA_SAMPLERS
from mmvireid.structures import IR, RGB

P, K = 2, 3
# (pid, #RGB, #IR): id 1 has exactly K RGB, id 2 fewer than K of both,
# id 3 no IR image, -1 are outliers.
LAYOUT = [(0, 5, 4), (1, 3, 6), (2, 2, 1), (3, 4, 0), (-1, 3, 3)]


def make_items(layout=LAYOUT):
    items = []
    for pid, num_rgb, num_ir in layout:
        for modality, num in ((RGB, num_rgb), (IR, num_ir)):
            items += [
                dict(
                    img_path=f'{pid}_{modality}_{i}.jpg',
                    pid=pid,
                    camid=1 + 2 * modality,
                    modality=modality) for i in range(num)
            ]
    return items


class ListDataset(BaseVIReIDDataset):
    """A BaseVIReIDDataset built from a list of items."""

    def __init__(self, items, data_root):
        self._items = items
        # no serialisation: MMEngine's gc.collect() there costs ~1 s a test
        super().__init__(data_root=data_root, serialize_data=False)

    def load_data_list(self):
        return [dict(item) for item in self._items]


class PseudoLabelled:
    """Only get_data_info, with pseudo-labels that can be rewritten."""

    def __init__(self, modalities, pseudo_labels):
        self.modality = list(modalities)
        self.pseudo_label = list(pseudo_labels)

    def __len__(self):
        return len(self.modality)

    def get_data_info(self, idx):
        return dict(
            modality=self.modality[idx], pseudo_label=self.pseudo_label[idx])


@pytest.fixture
def dataset(tmp_path):
    return ListDataset(make_items(), str(tmp_path))


def build(dataset, **cfg):
    cfg = dict(dict(num_pids=P, num_instances=K, seed=0), **cfg)
    return DATA_SAMPLERS.build(
        dict(type='CrossModalityIdentitySampler', dataset=dataset, **cfg))


def batches(sampler):
    indices = list(sampler)
    assert len(indices) == len(sampler)
    return np.array(indices).reshape(-1, sampler.batch_size)


def test_batch_composition(dataset):
    items = make_items()
    pid = np.array([item['pid'] for item in items])
    modality = np.array([item['modality'] for item in items])
    sampler = build(dataset)
    assert sampler.batch_size == P * 2 * K == 12
    seen = Counter()
    for epoch in range(30):
        sampler.set_epoch(epoch)
        for batch in batches(sampler):
            assert (modality[batch[:P * K]] == RGB).all()
            assert (modality[batch[P * K:]] == IR).all()
            blocks = batch.reshape(2 * P, K)
            block_pids = pid[blocks]
            assert (block_pids == block_pids[:, :1]).all()
            rgb_pids, ir_pids = block_pids[:P, 0], block_pids[P:, 0]
            assert list(rgb_pids) == list(ir_pids)
            assert len(set(rgb_pids)) == P
            assert set(rgb_pids) <= {0, 1, 2}  # never 3 (no IR) nor -1
            for block, block_pid in zip(blocks, block_pids[:, 0]):
                own = np.flatnonzero((pid == block_pid)
                                     & (modality == modality[block[0]]))
                assert set(block) <= set(own)
                if len(own) >= K:  # no replacement when there are enough
                    assert len(set(block)) == K
            seen.update(batch.tolist())
    # every image of the drawable identities is drawn at some point
    drawable = np.flatnonzero(np.isin(pid, [0, 1, 2]))
    assert set(seen) == set(drawable.tolist())


def test_with_replacement_as_agw_and_mclnet(dataset):
    """replace=True: the K images of an identity are K independent uniform
    draws from its images (np.random.choice(pos, K) of the AGW / MCLNet
    IdentitySampler), also when it has K or more."""
    items = make_items()
    pid = np.array([item['pid'] for item in items])
    modality = np.array([item['modality'] for item in items])
    sampler = build(dataset, replace=True)
    # id 0 RGB: 5 images, K = 3 -> a block has a repeat with probability
    # 1 - 5 * 4 * 3 / 5**3 = 0.52
    own = np.flatnonzero((pid == 0) & (modality == RGB))
    blocks, counts = [], Counter()
    for epoch in range(200):
        sampler.set_epoch(epoch)
        for batch in batches(sampler):
            for block in batch.reshape(2 * P, K):
                if block[0] in own:
                    assert set(block) <= set(own)
                    blocks.append(len(set(block)) < K)
                    counts.update(block.tolist())
    assert np.mean(blocks) == pytest.approx(0.52, abs=0.06)
    draws = np.array([counts[i] for i in own])
    assert draws.min() > 0.85 * draws.mean()  # uniform over the 5 images
    assert draws.max() < 1.15 * draws.mean()
    # the layout of the batches is unchanged
    for batch in batches(sampler):
        assert (modality[batch[:P * K]] == RGB).all()
        assert (modality[batch[P * K:]] == IR).all()


def test_default_length_covers_the_larger_modality(dataset, monkeypatch):
    # 17 RGB and 14 IR images; P * K = 6 RGB per batch -> ceil(17 / 6) = 3
    assert len(build(dataset)) == 3 * 12
    assert len(build(dataset, iters_per_epoch=5)) == 5 * 12
    monkeypatch.setattr(module, 'get_dist_info', lambda: (1, 2))
    assert len(build(dataset)) == 2 * 12  # ceil(17 / (6 * 2))


def test_deterministic_from_seed_and_epoch(dataset):
    first = list(build(dataset))
    assert list(build(dataset)) == first
    assert list(build(dataset, seed=1)) != first
    sampler = build(dataset)
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_ranks_take_their_share_of_one_global_draw(dataset, monkeypatch):
    whole = batches(build(dataset, iters_per_epoch=8))
    shares = []
    for rank in range(2):
        monkeypatch.setattr(module, 'get_dist_info', lambda r=rank: (r, 2))
        sampler = build(dataset, iters_per_epoch=4)
        sampler.set_epoch(0)
        shares.append(batches(sampler))
    assert np.array_equal(shares[0], whole[0::2])
    assert np.array_equal(shares[1], whole[1::2])
    assert not np.array_equal(shares[0], shares[1])


def test_pseudo_labels_are_read_at_every_epoch():
    modalities = [RGB] * 6 + [IR] * 6
    dataset = PseudoLabelled(modalities, [0, 0, 1, 1, 2, 2] * 2)
    sampler = build(dataset, label_key='pseudo_label', num_instances=2)
    assert len(sampler) == 2 * (2 * 2 * 2)  # ceil(6 / (2 * 2)) batches
    assert set(list(sampler)) == set(range(12))
    # relabel: images 0, 1, 6, 7 become outliers, 2..5 and 8..11 id 10 / 11
    dataset.pseudo_label = [-1, -1, 10, 10, 11, 11] * 2
    drawn = set()
    for epoch in range(5):
        sampler.set_epoch(epoch)
        drawn |= set(list(sampler))
    assert drawn == {2, 3, 4, 5, 8, 9, 10, 11}


def test_errors(dataset, tmp_path):
    one_sided = ListDataset(
        make_items([(0, 4, 0), (1, 0, 4), (2, 3, 0)]), str(tmp_path))
    with pytest.raises(ValueError, match='0 identities.*both modalities'):
        list(build(one_sided))
    with pytest.raises(ValueError, match='3 identities.*num_pids=4'):
        list(build(dataset, num_pids=4))
    with pytest.raises(KeyError, match="'pseudo_label'"):
        list(build(dataset, label_key='pseudo_label'))
    with pytest.raises(ValueError, match='num_instances'):
        build(dataset, num_instances=0)
    with pytest.raises(ValueError, match='iters_per_epoch'):
        build(dataset, iters_per_epoch=2.5)
    with pytest.raises(ValueError, match=r'modality values.*\[2\]'):
        build(PseudoLabelled([RGB, 2], [0, 0]), label_key='pseudo_label')
    with pytest.raises(ValueError, match="'pseudo_label'.*float"):
        list(
            build(
                PseudoLabelled([RGB, IR] * 4, [0.0, 0.0, 1.0, 1.0] * 2),
                label_key='pseudo_label'))


def test_through_mmengine_data_loader(dataset):
    loader = Runner.build_dataloader(
        dict(
            batch_size=P * 2 * K,
            num_workers=0,
            sampler=dict(
                type='CrossModalityIdentitySampler',
                num_pids=P,
                num_instances=K),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dataset),
        seed=3)
    assert len(loader) == 3
    for batch in loader:
        assert [m for m in batch['modality']] == [RGB] * 6 + [IR] * 6
