import numpy as np
import pytest
from mmengine.runner import Runner

from mmvireid.datasets import BaseVIReIDDataset
from mmvireid.structures import IR, RGB

ITEMS = [
    dict(img_path=f'{i}.jpg', pid=i // 2, camid=1, modality=RGB if i < 4
         else IR) for i in range(6)
]


class ListDataset(BaseVIReIDDataset):
    """Six items, serialized as MMEngine does by default."""

    def load_data_list(self):
        return [dict(item) for item in ITEMS]


@pytest.fixture
def dataset(tmp_path):
    return ListDataset(data_root=str(tmp_path))


def test_labels_reach_items_and_can_be_replaced(dataset):
    assert dataset.pseudo_labels is None
    assert 'pseudo_label' not in dataset.get_data_info(0)
    dataset.set_pseudo_labels([3, -1, 0, 0, 1, -1])
    assert [dataset.get_data_info(i)['pseudo_label']
            for i in range(6)] == [3, -1, 0, 0, 1, -1]
    assert dataset.get_data_info(-1)['pseudo_label'] == -1
    assert dataset.pseudo_labels.dtype == np.int64
    # the rest of the item is untouched
    assert dataset.get_data_info(4)['pid'] == 2
    assert dataset.get_data_info(4)['modality'] == IR
    dataset.set_pseudo_labels(np.array([0, 0, 0, 1, 1, 1], dtype=np.int32))
    assert dataset[5]['pseudo_label'] == 1  # through the pipeline too
    dataset.set_pseudo_labels(None)
    assert 'pseudo_label' not in dataset.get_data_info(0)


def test_a_new_loader_iterator_sees_new_labels(dataset):
    loader = Runner.build_dataloader(
        dict(
            batch_size=6,
            num_workers=1,
            persistent_workers=True,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dataset))
    dataset = loader.dataset  # the runner builds the loader on a copy
    dataset.set_pseudo_labels([0] * 6)
    assert next(iter(loader))['pseudo_label'] == [0] * 6
    dataset.set_pseudo_labels([1] * 6)
    # a persistent worker keeps its copy of the dataset ...
    assert next(iter(loader))['pseudo_label'] == [0] * 6
    # ... until the iterator is restarted, as ClusteringHook does
    loader._iterator = None
    assert next(iter(loader))['pseudo_label'] == [1] * 6


@pytest.mark.parametrize('labels, match', [
    ([0, 1], r'6 integer labels.*shape \(2,\)'),
    ([0.5] * 6, 'float'),
    ([0, 0, -2, 0, 0, 0], 'minimum -2'),
])
def test_bad_labels_are_refused(dataset, labels, match):
    with pytest.raises(ValueError, match=match):
        dataset.set_pseudo_labels(labels)


@pytest.mark.parametrize('serialize_data', [True, False])
def test_subsets_keep_each_items_label(tmp_path, serialize_data):
    dataset = ListDataset(data_root=str(tmp_path),
                          serialize_data=serialize_data)
    labels = [3, -1, 0, 0, 1, -1]
    dataset.set_pseudo_labels(labels)

    def pairs(ds):
        return [(ds.get_data_info(i)['img_path'],
                 ds.get_data_info(i)['pseudo_label']) for i in range(len(ds))]

    expected = {f'{i}.jpg': label for i, label in enumerate(labels)}
    for indices in ([4, 0, 2], 2, -2):
        subset = dataset.get_subset(indices)
        assert len(subset.pseudo_labels) == len(subset)
        assert all(expected[path] == label for path, label in pairs(subset))
    assert [p for p, _ in pairs(dataset.get_subset([4, 0, 2]))] == [
        '4.jpg', '0.jpg', '2.jpg'
    ]
    # the original is untouched; the in-place version subsets its labels
    assert dataset.pseudo_labels.tolist() == labels
    dataset.get_subset_([5, 1])
    assert pairs(dataset) == [('5.jpg', -1), ('1.jpg', -1)]
    dataset.get_subset_(-1)
    assert dataset.pseudo_labels.tolist() == [-1]
    # without labels the subsets have none
    dataset.set_pseudo_labels(None)
    assert dataset.get_subset([0]).pseudo_labels is None


def test_fields_are_read_once_and_follow_subsets(tmp_path, monkeypatch):
    dataset = ListDataset(data_root=str(tmp_path))
    reads = []
    get_data_info = ListDataset.get_data_info

    def counting(self, idx):
        reads.append(idx)
        return get_data_info(self, idx)

    monkeypatch.setattr(ListDataset, 'get_data_info', counting)
    expected = [item['pid'] for item in ITEMS]
    assert dataset.pids.tolist() == expected
    assert len(reads) == 6
    pids = dataset.pids
    assert len(reads) == 6  # cached
    pids[0] = 99  # a copy: the cache is untouched
    assert dataset.pids.tolist() == expected
    assert dataset.modalities.tolist() == [item['modality'] for item in ITEMS]
    subset = dataset.get_subset([5, 0])
    assert subset.pids.tolist() == [expected[5], expected[0]]
    assert dataset.pids.tolist() == expected
    dataset.get_subset_([3])
    assert dataset.pids.tolist() == [expected[3]]
    assert dataset.camids.tolist() == [1]
