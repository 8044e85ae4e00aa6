import os.path as osp
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmvireid.datasets import LLCMDataset
from mmvireid.registry import DATASETS
from mmvireid.structures import IR, RGB

TRAIN_VIS = ('train_vis/cam4/0003/0003_c04_s191201_f1_1.jpg 5\n'
             'train_vis/cam1/0001/0001_c01_s191201_f2_1.jpg 2\n')
TRAIN_NIR = 'train_nir/cam9/0001/0001_c09_s191201_f3_1.jpg 2\n'
TEST_IMAGES = [
    'test_vis/cam2/0006/a.jpg', 'test_vis/cam2/0006/b.jpg',
    'test_vis/cam9/0008/a.jpg', 'test_nir/cam4/0008/a.jpg',
    'test_nir/cam1/0006/a.jpg', 'test_vis/cam3/0007/a.jpg'
]


def write_tree(root: Path,
               train_vis=TRAIN_VIS,
               train_nir=TRAIN_NIR,
               test_ids='8,6',
               nir_cams=(1, 2, 4, 5, 6, 7, 8, 9)):
    (root / 'idx').mkdir(parents=True)
    (root / 'idx' / 'train_vis.txt').write_text(train_vis)
    (root / 'idx' / 'train_nir.txt').write_text(train_nir)
    (root / 'idx' / 'test_id.txt').write_text(test_ids)
    for camid in range(1, 10):
        (root / 'test_vis' / f'cam{camid}').mkdir(parents=True)
    for camid in nir_cams:
        (root / 'test_nir' / f'cam{camid}').mkdir(parents=True)
    lines = (train_vis + train_nir).splitlines()
    for name in [line.split()[0] for line in lines] + TEST_IMAGES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b'')
    return str(root)


def rows(dataset, root, *keys):
    return [(osp.relpath(it['img_path'], root), ) +
            tuple(it[k] for k in keys)
            for it in (dataset.get_data_info(i) for i in range(len(dataset)))]


def test_hand_made_train_split(tmp_path):
    root = write_tree(tmp_path)
    dataset = LLCMDataset(root, split='train')
    # labels 2, 5 -> 0, 1; camid from the camN folder
    assert rows(dataset, root, 'pid', 'camid', 'modality') == [
        ('train_vis/cam4/0003/0003_c04_s191201_f1_1.jpg', 1, 4, RGB),
        ('train_vis/cam1/0001/0001_c01_s191201_f2_1.jpg', 0, 1, RGB),
        ('train_nir/cam9/0001/0001_c09_s191201_f3_1.jpg', 0, 9, IR),
    ]
    assert dataset.metainfo == dict(dataset_name='LLCM', split='train')


def test_hand_made_test_split(tmp_path):
    root = write_tree(tmp_path)
    dataset = DATASETS.build(
        dict(type='LLCMDataset', data_root=root, split='test'))
    # id 7 is no test id; every image is a query and a gallery candidate
    assert rows(dataset, root, 'pid', 'camid', 'modality', 'is_query',
                'is_gallery') == [
                    ('test_vis/cam2/0006/a.jpg', 6, 2, RGB, True, True),
                    ('test_vis/cam2/0006/b.jpg', 6, 2, RGB, True, True),
                    ('test_vis/cam9/0008/a.jpg', 8, 9, RGB, True, True),
                    ('test_nir/cam1/0006/a.jpg', 6, 1, IR, True, True),
                    ('test_nir/cam4/0008/a.jpg', 8, 4, IR, True, True),
                ]


def test_synthetic_tree_train(llcm_root):
    dataset = LLCMDataset(llcm_root, split='train')
    paths, labels, modalities = [], [], []
    for modality, name in ((RGB, 'train_vis.txt'), (IR, 'train_nir.txt')):
        for line in Path(llcm_root, 'idx', name).read_text().splitlines():
            path, label = line.split(' ')
            paths.append(osp.join(llcm_root, path))
            labels.append(int(label))
            modalities.append(modality)
    assert [dataset.get_data_info(i)['img_path']
            for i in range(len(dataset))] == paths
    np.testing.assert_array_equal(
        dataset.pids, np.searchsorted(np.unique(labels), labels))
    np.testing.assert_array_equal(
        dataset.camids, [int(Path(p).parts[-3][3:]) for p in paths])
    np.testing.assert_array_equal(dataset.modalities, modalities)
    assert dataset.num_pids == 6


def test_synthetic_tree_test(llcm_root):
    dataset = LLCMDataset(llcm_root, split='test')
    test_ids = {
        int(t)
        for t in Path(llcm_root, 'idx', 'test_id.txt').read_text().split(',')
    }
    expected = []
    for folder in ('test_vis', 'test_nir'):
        expected += sorted(
            str(p) for p in Path(llcm_root, folder).glob('cam*/*/*.jpg')
            if int(p.parent.name) in test_ids)
    data = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [it['img_path'] for it in data] == expected
    np.testing.assert_array_equal(
        dataset.pids, [int(Path(p).parent.name) for p in expected])
    np.testing.assert_array_equal(
        dataset.camids, [int(Path(p).parts[-3][3:]) for p in expected])
    np.testing.assert_array_equal(
        dataset.modalities, ['test_nir' in p for p in expected])
    assert all(it['is_query'] and it['is_gallery'] for it in data)
    assert set(dataset.pids) == test_ids
    assert 3 not in dataset.camids[dataset.modalities == IR]


def test_path_without_camera(tmp_path):
    root = write_tree(
        tmp_path, train_nir='train_nir/0001/0001_c09_s191201_f3_1.jpg 2\n')
    with pytest.raises(ValueError, match=r'not under a camN/<pid>/ folder'):
        LLCMDataset(root)


def test_malformed_line_and_missing_image(tmp_path):
    root = write_tree(tmp_path / 'a', train_nir=TRAIN_NIR + 'oops\n')
    with pytest.raises(ValueError, match=r"train_nir\.txt' line 2: 'oops'"):
        LLCMDataset(root)
    root = write_tree(tmp_path / 'b')
    Path(root, 'train_vis/cam1/0001/0001_c01_s191201_f2_1.jpg').unlink()
    with pytest.raises(FileNotFoundError,
                       match=r"train_vis\.txt' line 2 lists"):
        LLCMDataset(root)


def test_missing_files_and_folders(tmp_path):
    root = write_tree(tmp_path / 'a', nir_cams=(1, 2, 4, 6, 7, 8, 9))
    with pytest.raises(FileNotFoundError,
                       match=r'test_nir/cam5.*LLCM layout'):
        LLCMDataset(root, split='test')
    root = write_tree(tmp_path / 'b')
    Path(root, 'idx', 'train_nir.txt').unlink()
    with pytest.raises(FileNotFoundError, match=r'train_nir\.txt'):
        LLCMDataset(root)
    shutil.rmtree(Path(root, 'test_vis'))
    with pytest.raises(FileNotFoundError, match=r'test_vis/cam1'):
        LLCMDataset(root, split='test')


def test_bad_test_ids_and_empty_split(tmp_path):
    root = write_tree(tmp_path / 'a', test_ids='6 8')
    with pytest.raises(ValueError, match=r'test_id\.txt.*comma-separated'):
        LLCMDataset(root, split='test')
    root = write_tree(tmp_path / 'b', test_ids='11,12')
    with pytest.raises(ValueError, match=r"split 'test'.*no image"):
        LLCMDataset(root, split='test')
