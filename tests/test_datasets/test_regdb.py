import os.path as osp
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmvireid.datasets import RegDBDataset
from mmvireid.registry import DATASETS
from mmvireid.structures import IR, RGB

IMAGES = [
    'Visible/1/a_v_1.bmp', 'Visible/1/a_v_2.bmp', 'Visible/4/b_v_1.bmp',
    'Thermal/1/a_t_1.bmp', 'Thermal/4/b_t_1.bmp', 'Thermal/4/b_t_2.bmp'
]
INDEX = {
    'train_visible_2.txt': 'Visible/4/b_v_1.bmp 9\nVisible/1/a_v_1.bmp 4\n\n',
    'train_thermal_2.txt': 'Thermal/1/a_t_1.bmp 4\nThermal/4/b_t_2.bmp 9\n',
    'test_visible_2.txt': 'Visible/1/a_v_2.bmp 4\n',
    'test_thermal_2.txt': 'Thermal/4/b_t_1.bmp 9',
}


def write_tree(root: Path, index=INDEX, images=IMAGES):
    for name in images:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b'')
    (root / 'idx').mkdir()
    for name, text in index.items():
        (root / 'idx' / name).write_text(text)
    return str(root)


def rows(dataset, root, *keys):
    return [(osp.relpath(it['img_path'], root), ) +
            tuple(it[k] for k in keys)
            for it in (dataset.get_data_info(i) for i in range(len(dataset)))]


def test_hand_made_train_split(tmp_path):
    root = write_tree(tmp_path)
    dataset = RegDBDataset(root, split='train', trial=2)
    # labels 4, 9 -> 0, 1; visible file first, in file order.
    assert rows(dataset, root, 'pid', 'camid', 'modality') == [
        ('Visible/4/b_v_1.bmp', 1, 1, RGB),
        ('Visible/1/a_v_1.bmp', 0, 1, RGB),
        ('Thermal/1/a_t_1.bmp', 0, 2, IR),
        ('Thermal/4/b_t_2.bmp', 1, 2, IR),
    ]
    assert dataset.metainfo == dict(
        dataset_name='RegDB', split='train', trial=2)


def test_hand_made_test_split(tmp_path):
    root = write_tree(tmp_path)
    dataset = DATASETS.build(
        dict(type='RegDBDataset', data_root=root, split='test', trial=2))
    assert rows(dataset, root, 'pid', 'camid', 'modality', 'is_query',
                'is_gallery') == [
                    ('Visible/1/a_v_2.bmp', 4, 1, RGB, True, True),
                    ('Thermal/4/b_t_1.bmp', 9, 2, IR, True, True),
                ]


def read_index(root, name):
    lines = Path(root, 'idx', name).read_text().split('\n')
    pairs = [line.split(' ') for line in lines if line]
    return [osp.join(root, p) for p, _ in pairs], [int(n) for _, n in pairs]


@pytest.mark.parametrize('trial', [1, 10])
def test_synthetic_tree(regdb_root, trial):
    for split, num_ids in (('train', 6), ('test', 4)):
        dataset = RegDBDataset(regdb_root, split=split, trial=trial)
        vis, vis_labels = read_index(regdb_root,
                                     f'{split}_visible_{trial}.txt')
        thr, thr_labels = read_index(regdb_root,
                                     f'{split}_thermal_{trial}.txt')
        assert [dataset.get_data_info(i)['img_path']
                for i in range(len(dataset))] == vis + thr
        labels = np.array(vis_labels + thr_labels)
        expected = np.searchsorted(np.unique(labels), labels) \
            if split == 'train' else labels
        np.testing.assert_array_equal(dataset.pids, expected)
        np.testing.assert_array_equal(dataset.camids,
                                      [1] * len(vis) + [2] * len(thr))
        np.testing.assert_array_equal(dataset.modalities,
                                      [RGB] * len(vis) + [IR] * len(thr))
        # ten images per id per modality, visible / thermal folders
        assert dataset.num_pids == num_ids
        assert len(vis) == len(thr) == 10 * num_ids
        assert all('/Visible/' in p and p.endswith('.bmp') for p in vis)
        assert all('/Thermal/' in p for p in thr)


def test_bad_trial(tmp_path):
    root = write_tree(tmp_path)
    with pytest.raises(ValueError, match='trial must be one of'):
        RegDBDataset(root, trial=11)


@pytest.mark.parametrize('line',
                         ['Visible/1/a_v_1.bmp', 'Visible/1/a_v_1.bmp x'])
def test_malformed_line(tmp_path, line):
    index = dict(INDEX)
    index['train_visible_2.txt'] = f'Visible/4/b_v_1.bmp 9\n{line}\n'
    root = write_tree(tmp_path, index=index)
    expected = re.escape(f"train_visible_2.txt' line 2: {line!r} is not of "
                         'the form "<relative path> <label>"')
    with pytest.raises(ValueError, match=expected):
        RegDBDataset(root, trial=2)


def test_missing_image(tmp_path):
    index = dict(INDEX)
    index['test_thermal_2.txt'] = 'Thermal/4/b_t_1.bmp 9\nThermal/4/gone.bmp 9'
    root = write_tree(tmp_path, index=index)
    with pytest.raises(
            FileNotFoundError,
            match=r"test_thermal_2\.txt' line 2 lists 'Thermal/4/gone\.bmp'"
            r".*Thermal/4/gone\.bmp' does not exist"):
        RegDBDataset(root, split='test', trial=2)


def test_missing_index_file_and_folder(tmp_path):
    root = write_tree(tmp_path)
    with pytest.raises(FileNotFoundError,
                       match=r'train_visible_3\.txt.*RegDB layout'):
        RegDBDataset(root, trial=3)
    shutil.rmtree(tmp_path / 'Thermal')
    with pytest.raises(FileNotFoundError, match=r'image folder .*Thermal'):
        RegDBDataset(root, trial=2)


def test_empty_split(tmp_path):
    index = dict(INDEX, **{
        'test_visible_2.txt': '\n',
        'test_thermal_2.txt': ''
    })
    root = write_tree(tmp_path, index=index)
    with pytest.raises(ValueError, match=r"split 'test'.*no image"):
        RegDBDataset(root, split='test', trial=2)
