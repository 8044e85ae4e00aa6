import os
import os.path as osp
import random

import numpy as np
import pytest
import scipy.io

from mmvireid.evaluation.functional import (draw_gallery, load_rand_perm_cam,
                                            official_gallery, setting_indices,
                                            trial_indices)
from mmvireid.structures import IR, RGB
from mmvireid.testing.sysu_rand_perm_cam import write_rand_perm_cam


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


def test_setting_indices():
    is_query = [True, True, False, False, True]
    is_gallery = [False, False, True, True, True]
    modality = [IR, IR, RGB, RGB, RGB]
    camid = [3, 6, 1, 4, 2]
    setting = dict(query_modality=IR,
                   gallery_modality=RGB,
                   gallery_cams=[1, 2])
    q_index, c_index = setting_indices(setting, is_query, is_gallery, modality,
                                       camid)
    assert q_index.tolist() == [0, 1] and c_index.tolist() == [2, 4]
    setting = dict(query_modality=RGB, gallery_modality=IR, gallery_cams=None)
    q_index, c_index = setting_indices(setting, is_query, is_gallery, modality,
                                       camid)
    assert q_index.tolist() == [4] and c_index.tolist() == []


@pytest.fixture
def sysu_test_set(tmp_path):
    """A SYSU-MM01 test tree of empty files (cam1..cam6) and its fields:
    image numbers 1..n per (id, camera), some pairs missing, shuffled."""
    rng = np.random.default_rng(3)
    items = []
    for cam in range(1, 7):
        (tmp_path / f'cam{cam}').mkdir()
        for pid in TEST_IDS:
            if (cam, pid) in ((4, 7), (6, 3), (2, 12)):
                continue
            folder = tmp_path / f'cam{cam}' / f'{pid:04d}'
            folder.mkdir()
            for number in range(1, rng.integers(1, 13) + 1):
                (folder / f'{number:04d}.jpg').touch()
                items.append((f'{folder}/{number:04d}.jpg', pid, cam))
    items = [items[i] for i in rng.permutation(len(items))]
    ir = np.array([cam in (3, 6) for _, _, cam in items])
    fields = dict(img_path=np.array([p for p, _, _ in items]),
                  pid=np.array([pid for _, pid, _ in items]),
                  camid=np.array([cam for _, _, cam in items]),
                  modality=np.where(ir, IR, RGB),
                  is_query=ir,
                  is_gallery=~ir)
    return str(tmp_path), fields


def official_names(mat_file, cams, ids, trial, num_shots):
    """The release's gallery (get_testing_set.m), read the way the public
    Python ports read the file: cam<c>/<pid>/<number> in drawing order."""
    perm = scipy.io.loadmat(mat_file)['rand_perm_cam']
    names = []
    for cam in cams:
        cam_perm = perm[cam - 1][0].squeeze()
        for pid in sorted(ids):
            if pid - 1 < len(cam_perm) and len(cam_perm[pid - 1]) > 0:
                numbers = cam_perm[pid - 1][trial][:num_shots]
                names += [f'cam{cam}/{pid:04d}/{int(n):04d}' for n in numbers]
    return names


def test_written_rand_perm_cam_has_the_official_structure(sysu_test_set):
    root, fields = sysu_test_set
    path = write_rand_perm_cam(root, num_trials=4, seed=1)
    assert path == osp.join(root, 'exp', 'rand_perm_cam.mat')
    cells = scipy.io.loadmat(path)['rand_perm_cam']
    assert cells.shape == (6, 1)
    for cam in range(1, 7):
        cell = cells[cam - 1][0]
        assert cell.shape == (max(TEST_IDS), 1)
        for pid in range(1, max(TEST_IDS) + 1):
            numbers = sorted(
                int(osp.splitext(osp.basename(p))[0])
                for p, i, c in zip(fields['img_path'], fields['pid'],
                                   fields['camid']) if (i, c) == (pid, cam))
            perm = cell[pid - 1][0]
            if not numbers:
                assert perm.size == 0
                continue
            assert perm.shape == (4, len(numbers))
            for row in perm:  # every trial a permutation of the numbers
                assert sorted(row.tolist()) == numbers
    rand_perm = load_rand_perm_cam(path)
    assert rand_perm[1, 40].dtype == np.int64
    np.testing.assert_array_equal(rand_perm[1, 40], cells[0][0][39][0])
    assert (4, 7) not in rand_perm and (1, 5) not in rand_perm


@pytest.mark.parametrize('mode, num_shots', [('single_shot', 1),
                                             ('multi_shot', 10)])
@pytest.mark.parametrize('cams', [[1, 2, 4, 5], [1, 2]])
def test_official_gallery_follows_the_release(sysu_test_set, mode, num_shots,
                                              cams):
    root, fields = sysu_test_set
    path = write_rand_perm_cam(root, num_trials=10, seed=2)
    rand_perm = load_rand_perm_cam(path)
    setting = dict(name='s', query_modality=IR, gallery_modality=RGB,
                   gallery_cams=cams, gallery_mode=mode)
    galleries = set()
    for trial in range(10):
        q_index, g_index = trial_indices(setting, trial, fields, rand_perm)
        assert q_index.tolist() == np.flatnonzero(fields['is_query']).tolist()
        names = [
            osp.splitext(osp.relpath(p, root))[0]
            for p in fields['img_path'][g_index]
        ]
        assert names == official_names(path, cams, TEST_IDS, trial,
                                       num_shots)
        galleries.add(tuple(names))
    assert len(galleries) == 10
    # the candidates' own indices: official_gallery on the candidates
    c_index = np.flatnonzero(fields['is_gallery']
                             & np.isin(fields['camid'], cams))
    selected = official_gallery(fields['pid'][c_index],
                                fields['camid'][c_index],
                                fields['img_path'][c_index], 3, rand_perm,
                                gallery_cams=cams, num_shots=num_shots)
    assert c_index[selected].tolist() == trial_indices(
        setting, 3, fields, rand_perm)[1].tolist()


def test_trial_indices_random_draw_and_all(sysu_test_set):
    _, fields = sysu_test_set
    setting = dict(name='s', query_modality=IR, gallery_modality=RGB,
                   gallery_cams=[1, 2], gallery_mode='single_shot')
    c_index = np.flatnonzero(fields['is_gallery']
                             & np.isin(fields['camid'], [1, 2]))
    for trial in (0, 5):
        expected = c_index[draw_gallery(fields['pid'][c_index],
                                        fields['camid'][c_index],
                                        fields['img_path'][c_index],
                                        seed=trial, gallery_cams=[1, 2])]
        _, g_index = trial_indices(setting, trial, fields)
        assert g_index.tolist() == expected.tolist()
    # 'all' ignores the trial and any permutations
    setting['gallery_mode'] = 'all'
    assert trial_indices(setting, 4, fields, {})[1].tolist() == \
        c_index.tolist()
    setting['query_modality'] = RGB
    with pytest.raises(ValueError, match='found 0 queries'):
        trial_indices(setting, 0, fields)


def test_empty_entries_of_any_shape_and_bad_files(sysu_test_set, tmp_path):
    root, fields = sysu_test_set
    cell = np.empty((2, 1), dtype=object)
    cell[0, 0] = np.zeros((10, 0))  # an id without image, (trials, 0)
    cell[1, 0] = np.array([[2., 1.], [1., 2.]])
    cells = np.empty((6, 1), dtype=object)
    for cam in range(6):
        cells[cam, 0] = cell
    good = str(tmp_path / 'good.mat')
    scipy.io.savemat(good, {'rand_perm_cam': cells})
    rand_perm = load_rand_perm_cam(good)
    assert sorted(rand_perm) == [(cam, 2) for cam in range(1, 7)]

    bad = str(tmp_path / 'bad.mat')
    scipy.io.savemat(bad, {'perm': np.zeros(3)})
    with pytest.raises(ValueError, match='"rand_perm_cam".*found .*perm'):
        load_rand_perm_cam(bad)
    cells[2, 0] = np.zeros((2, 2))
    scipy.io.savemat(bad, {'rand_perm_cam': cells})
    with pytest.raises(ValueError, match=r'rand_perm_cam\{3\} must be a cell'):
        load_rand_perm_cam(bad)
    cell[1, 0] = np.array([[0.5, 1.]])
    cells[2, 0] = cell
    scipy.io.savemat(bad, {'rand_perm_cam': cells})
    with pytest.raises(ValueError, match=r'\{1\}\{2\} must be .*numbers'):
        load_rand_perm_cam(bad)
    with pytest.raises(FileNotFoundError, match='nope.mat'):
        load_rand_perm_cam(str(tmp_path / 'nope.mat'))

    # permutations of another dataset: ids without entry, missing images
    setting = dict(name='s', query_modality=IR, gallery_modality=RGB,
                   gallery_cams=[1, 2], gallery_mode='single_shot')
    with pytest.raises(ValueError, match='no entry for camera 1, id 3'):
        trial_indices(setting, 0, fields, rand_perm)
    rand_perm = load_rand_perm_cam(write_rand_perm_cam(root, num_trials=2))
    with pytest.raises(ValueError, match='trial 2 .* hold 2 trials'):
        trial_indices(setting, 2, fields, rand_perm)
    rand_perm[1, 3] = np.array([[99]])
    with pytest.raises(ValueError, match='cam1/0003/0099, which is not'):
        trial_indices(setting, 0, fields, rand_perm)
    with pytest.raises(ValueError, match='not numbers .* e.g. .*x.jpg'):
        official_gallery([1], [1], ['cam1/0001/x.jpg'], 0, {(1, 1): [[1]]})
