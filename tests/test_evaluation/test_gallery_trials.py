import os
import os.path as osp
import random

import numpy as np
import pytest

from mmvireid.evaluation.functional import draw_gallery


def community_process_gallery(data_path, ids, rgb_cameras, trial,
                              multi_shot):
    """AGW's ``process_gallery_sysu`` draw on a folder tree (global seed)."""
    state = random.getstate()
    random.seed(trial)
    ids = ['%04d' % x for x in ids]
    files = []
    for id in sorted(ids):
        for cam in rgb_cameras:
            img_dir = osp.join(data_path, cam, id)
            if osp.isdir(img_dir):
                new_files = sorted(
                    [img_dir + '/' + i for i in os.listdir(img_dir)])
                if multi_shot:
                    files.extend(random.sample(new_files,
                                               min(10, len(new_files))))
                else:
                    files.append(random.choice(new_files))
    random.setstate(state)
    return files


TEST_IDS = (40, 3, 12, 7)


@pytest.fixture
def sysu_tree(tmp_path):
    """cam{1,2,4,5}/<pid>/<img>.jpg with 1..13 images per (id, camera)."""
    rng = np.random.default_rng(0)
    paths = []
    for cam in (1, 2, 4, 5):
        for pid in TEST_IDS:
            if (cam, pid) == (4, 7):  # a pair with no image
                continue
            folder = tmp_path / f'cam{cam}' / f'{pid:04d}'
            folder.mkdir(parents=True)
            for img in rng.choice(30, size=rng.integers(1, 14), replace=False):
                (folder / f'{img + 1:04d}.jpg').touch()
                paths.append(f'{folder}/{img + 1:04d}.jpg')
    paths = [paths[i] for i in rng.permutation(len(paths))]
    pids = np.array([int(p.split('/')[-2]) for p in paths])
    camids = np.array([int(p.split('/')[-3][3:]) for p in paths])
    return str(tmp_path), paths, pids, camids


@pytest.mark.parametrize('multi_shot', [False, True])
@pytest.mark.parametrize('cams', [[1, 2, 4, 5], [1, 2], [5, 1]])
def test_matches_community_draw(sysu_tree, multi_shot, cams):
    root, paths, pids, camids = sysu_tree
    mode = 'multi_shot' if multi_shot else 'single_shot'
    for trial in range(10):
        expected = community_process_gallery(root, TEST_IDS,
                                             [f'cam{c}' for c in cams], trial,
                                             multi_shot)
        index = draw_gallery(
            pids, camids, paths, seed=trial, gallery_cams=cams, mode=mode)
        assert [paths[i] for i in index] == expected


def test_hand_run_of_random():
    # candidates of id 5 camera 1 in path order b, c, a -> sorted a, b, c
    paths = ['x/5/b.jpg', 'x/5/c.jpg', 'x/5/a.jpg', 'x/2/z.jpg', 'x/2/y.jpg']
    pids = [5, 5, 5, 2, 2]
    camids = [1, 1, 1, 1, 1]
    for seed in range(5):
        rng = random.Random(seed)
        first = rng.choice(['x/2/y.jpg', 'x/2/z.jpg'])  # id 2 comes first
        second = rng.choice(['x/5/a.jpg', 'x/5/b.jpg', 'x/5/c.jpg'])
        index = draw_gallery(pids, camids, paths, seed=seed)
        assert [paths[i] for i in index] == [first, second]


def test_single_shot_one_per_id_per_camera(sysu_tree):
    _, paths, pids, camids = sysu_tree
    index = draw_gallery(pids, camids, paths, seed=0, gallery_cams=[1, 2, 4])
    pairs = list(zip(pids[index].tolist(), camids[index].tolist()))
    expected = {(p, c) for p, c in zip(pids.tolist(), camids.tolist())
                if c in (1, 2, 4)}
    assert len(pairs) == len(set(pairs)) == len(expected) == 11
    assert set(pairs) == expected


def test_multi_shot_up_to_ten_distinct(sysu_tree):
    _, paths, pids, camids = sysu_tree
    index = draw_gallery(pids, camids, paths, seed=1, mode='multi_shot')
    assert len(np.unique(index)) == len(index)
    for pid in np.unique(pids):
        for cam in (1, 2, 4, 5):
            available = np.sum((pids == pid) & (camids == cam))
            drawn = np.sum((pids[index] == pid) & (camids[index] == cam))
            assert drawn == min(10, available)


def test_reproducible_and_seed_dependent(sysu_tree):
    _, paths, pids, camids = sysu_tree
    draws = [
        tuple(draw_gallery(pids, camids, paths, seed=s)) for s in range(10)
    ]
    assert draws[3] == tuple(draw_gallery(pids, camids, paths, seed=3))
    assert len(set(draws)) == 10


def test_all_mode_keeps_every_candidate_of_the_cameras():
    index = draw_gallery([1, 1, 2, 2], [1, 2, 2, 3], list('abcd'), seed=0,
                         gallery_cams=[2, 3], mode='all')
    np.testing.assert_array_equal(index, [1, 2, 3])
    assert index.dtype == np.int64


@pytest.mark.parametrize('kwargs, message', [
    (dict(mode='few_shot'), 'mode must be one of'),
    (dict(num_shots=0), 'num_shots must be a positive int'),
    (dict(pids=[1, 2]), 'equal length'),
    (dict(gallery_cams=[1, 1]), 'distinct camera numbers'),
])
def test_bad_input_raises(kwargs, message):
    args = dict(pids=[1, 2, 3], camids=[1, 1, 2], img_paths=list('abc'),
                seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        draw_gallery(**args)
