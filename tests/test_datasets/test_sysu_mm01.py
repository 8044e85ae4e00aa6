import os.path as osp
from pathlib import Path

import numpy as np
import pytest

from mmvireid.datasets import SYSUMM01Dataset
from mmvireid.registry import DATASETS
from mmvireid.structures import IR, RGB

IDS = dict(train='7,3', val='5', test='2')
FILES = [
    'cam1/0003/0001.jpg', 'cam1/0003/0002.jpg', 'cam3/0003/0001.jpg',
    'cam2/0007/0001.jpg', 'cam6/0005/0001.jpg', 'cam4/0005/0001.jpg',
    'cam1/0002/0001.jpg', 'cam3/0002/0001.jpg', 'cam6/0002/0001.jpg',
    'cam1/0003/Thumbs.db', 'cam1/0099/0001.jpg'
]


def write_tree(root: Path, ids=IDS, files=FILES, cams=range(1, 7)):
    """A hand-made SYSU-MM01 tree of empty files (loaders open no image)."""
    for camid in cams:
        (root / f'cam{camid}').mkdir(parents=True, exist_ok=True)
    (root / 'exp').mkdir(exist_ok=True)
    for name, line in ids.items():
        (root / 'exp' / f'{name}_id.txt').write_text(line + '\n')
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b'')
    return str(root)


def items(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def test_hand_made_train_split(tmp_path):
    root = write_tree(tmp_path)
    dataset = SYSUMM01Dataset(root, split='train')
    # official ids 3, 5, 7 -> 0, 1, 2; cam1 image order by name; 0099 is no
    # listed id and Thumbs.db no image.
    expected = [('cam1/0003/0001.jpg', 0, 1, RGB),
                ('cam1/0003/0002.jpg', 0, 1, RGB),
                ('cam2/0007/0001.jpg', 2, 2, RGB),
                ('cam3/0003/0001.jpg', 0, 3, IR),
                ('cam4/0005/0001.jpg', 1, 4, RGB),
                ('cam6/0005/0001.jpg', 1, 6, IR)]
    got = [(osp.relpath(it['img_path'], root), it['pid'], it['camid'],
            it['modality']) for it in items(dataset)]
    assert got == expected
    assert all(osp.isabs(it['img_path']) for it in items(dataset))
    assert 'is_query' not in dataset.get_data_info(0)
    assert dataset.num_pids == 3
    np.testing.assert_array_equal(dataset.camids, [1, 1, 2, 3, 4, 6])
    np.testing.assert_array_equal(dataset.modalities, [0, 0, 0, 1, 0, 1])
    assert dataset.metainfo == dict(dataset_name='SYSU-MM01', split='train')


def test_hand_made_test_split(tmp_path):
    root = write_tree(tmp_path)
    dataset = DATASETS.build(
        dict(type='SYSUMM01Dataset', data_root=root, split='test'))
    expected = [('cam1/0002/0001.jpg', 2, 1, RGB, False, True),
                ('cam3/0002/0001.jpg', 2, 3, IR, True, False),
                ('cam6/0002/0001.jpg', 2, 6, IR, True, False)]
    got = [(osp.relpath(it['img_path'], root), it['pid'], it['camid'],
            it['modality'], it['is_query'], it['is_gallery'])
           for it in items(dataset)]
    assert got == expected
    assert dataset.metainfo['split'] == 'test'


def official_images(root, ids):
    """Independent listing: every cam*/<id>/*.jpg of the given ids."""
    return sorted(
        str(p) for p in Path(root).glob('cam*/*/*.jpg')
        if int(p.parent.name) in ids)


def read_ids(root, *names):
    return {
        int(t)
        for n in names
        for t in Path(root, 'exp', f'{n}_id.txt').read_text().split(',')
    }


def test_synthetic_tree_train(sysu_root):
    dataset = SYSUMM01Dataset(sysu_root, split='train')
    train_ids = read_ids(sysu_root, 'train', 'val')
    paths = [it['img_path'] for it in items(dataset)]
    assert sorted(paths) == official_images(sysu_root, train_ids)
    official = np.array([int(Path(p).parent.name) for p in paths])
    ranks = {pid: rank for rank, pid in enumerate(sorted(train_ids))}
    np.testing.assert_array_equal(dataset.pids,
                                  [ranks[pid] for pid in official])
    camids = np.array([int(Path(p).parts[-3][3:]) for p in paths])
    np.testing.assert_array_equal(dataset.camids, camids)
    np.testing.assert_array_equal(dataset.modalities,
                                  np.isin(camids, [3, 6]).astype(int))
    assert dataset.num_pids == len(train_ids) == 32


def test_synthetic_tree_test(sysu_root):
    dataset = SYSUMM01Dataset(sysu_root, split='test')
    test_ids = read_ids(sysu_root, 'test')
    data = items(dataset)
    paths = [it['img_path'] for it in data]
    assert paths == official_images(sysu_root, test_ids)  # sorted by path
    np.testing.assert_array_equal(
        dataset.pids, [int(Path(p).parent.name) for p in paths])
    is_ir = np.array([Path(p).parts[-3] in ('cam3', 'cam6') for p in paths])
    np.testing.assert_array_equal([it['is_query'] for it in data], is_ir)
    np.testing.assert_array_equal([it['is_gallery'] for it in data], ~is_ir)
    assert set(dataset.pids) == test_ids


def test_missing_camera_folder(tmp_path):
    root = write_tree(tmp_path, cams=[1, 2, 3, 4, 6])
    with pytest.raises(FileNotFoundError, match=r'cam5.*SYSU-MM01 layout'):
        SYSUMM01Dataset(root)


def test_missing_id_file(tmp_path):
    root = write_tree(tmp_path, ids=dict(train='3', test='2'))
    with pytest.raises(FileNotFoundError, match=r'val_id\.txt'):
        SYSUMM01Dataset(root)


def test_malformed_id_file(tmp_path):
    root = write_tree(tmp_path, ids=dict(train='3;7', val='5', test='2'))
    with pytest.raises(ValueError, match=r'train_id\.txt.*comma-separated'):
        SYSUMM01Dataset(root)


def test_overlapping_train_and_test_ids(tmp_path):
    root = write_tree(tmp_path, ids=dict(train='3,7', val='5', test='2,3'))
    with pytest.raises(ValueError, match=r'\[3\].*disjoint'):
        SYSUMM01Dataset(root, split='test')


def test_empty_split(tmp_path):
    root = write_tree(tmp_path, ids=dict(train='3,7', val='5', test='4'))
    with pytest.raises(ValueError, match=r"split 'test'.*no image"):
        SYSUMM01Dataset(root, split='test')


def test_bad_split_and_root(tmp_path):
    root = write_tree(tmp_path)
    with pytest.raises(ValueError, match='split must be one of'):
        SYSUMM01Dataset(root, split='val')
    with pytest.raises(FileNotFoundError, match='not a folder'):
        SYSUMM01Dataset(str(tmp_path / 'nowhere'))
