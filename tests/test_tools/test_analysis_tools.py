"""The analysis tools on a tiny synthetic SYSU-MM01 tree and checkpoint."""
import glob
import importlib.util
import os
import os.path as osp
import random

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample
from threadpoolctl import threadpool_limits

from mmvireid.apis import load_features, save_features
from mmvireid.evaluation.functional import load_rand_perm_cam, re_ranking
from mmvireid.registry import MODELS
from mmvireid.testing import make_synthetic_vireid, write_rand_perm_cam

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AGW_SYNTHETIC = osp.join(REPO, 'configs', 'agw',
                         'agw_r18_synthetic_sysu.py')
R50_CONFIG = osp.join(REPO, 'configs', 'agw', 'agw_r50_sysu.py')
GREEN, RED = (0, 170, 0), (220, 0, 0)  # VIReIDVisualizer's frame colours


def load_tool(name):
    """Import tools/analysis_tools/<name>.py as a module."""
    path = osp.join(REPO, 'tools', 'analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


extract_tool = load_tool('extract_features')
retrieval_tool = load_tool('visualize_retrieval')
tsne_tool = load_tool('vis_tsne')


def cfg_options(root, work_dir):
    return [
        '--work-dir',
        str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'test_dataloader.num_workers=0'
    ]


@pytest.fixture(autouse=True)
def _local_rank(monkeypatch):
    # the tools set LOCAL_RANK like tools/train.py; keep it to the test
    monkeypatch.setenv('LOCAL_RANK', '0')


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    """6 train ids, 4 test ids, 2 images per id per camera, 64 x 32."""
    return make_synthetic_vireid(str(tmp_path_factory.mktemp('analysis')),
                                 'sysu',
                                 seed=1,
                                 num_train_ids=6,
                                 num_test_ids=4,
                                 num_imgs_per_cam=2,
                                 img_size=(64, 32))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """An untrained quick-start model saved as an MMEngine checkpoint."""
    with DefaultScope.overwrite_default_scope('mmvireid'):
        model = MODELS.build(Config.fromfile(AGW_SYNTHETIC).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'untrained.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def test_features(tree, checkpoint, tmp_path_factory):
    """extract_features.py on the test split."""
    work = tmp_path_factory.mktemp('extract')
    out = str(work / 'features_test.npz')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('LOCAL_RANK', '0')
        assert extract_tool.main([AGW_SYNTHETIC, checkpoint, '--out', out] +
                                 cfg_options(tree, work / 'wd')) == out
    return out


def tree_items(root, split):
    """(path, pid, camid) of every image of a split, read off the tree."""
    exp = osp.join(root, 'exp')
    names = ['test_id.txt'
             ] if split == 'test' else ['train_id.txt', 'val_id.txt']
    ids = set()
    for name in names:
        with open(osp.join(exp, name)) as f:
            ids |= {int(i) for i in f.read().strip().split(',')}
    items = []
    for path in sorted(glob.glob(osp.join(root, 'cam*', '*', '*.jpg'))):
        pid = int(osp.basename(osp.dirname(path)))
        if pid in ids:
            cam = int(osp.basename(osp.dirname(osp.dirname(path)))[3:])
            items.append((path, pid, cam))
    return items


def test_extract_test_split_matches_the_tree(tree, checkpoint, test_features):
    data = load_features(test_features)
    items = {p: (pid, cam) for p, pid, cam in tree_items(tree, 'test')}
    assert len(data['img_path']) == len(items)
    assert sorted(data['img_path']) == sorted(items)
    assert data['features'].dtype == np.float32
    assert data['features'].shape == (len(items), 512)  # ResNet-18 + BNNeck
    for row, path in enumerate(data['img_path']):
        pid, cam = items[path]
        assert (data['pid'][row], data['camid'][row]) == (pid, cam)
        infrared = cam in (3, 6)
        assert data['modality'][row] == int(infrared)
        assert data['is_query'][row] == infrared
        assert data['is_gallery'][row] == (not infrared)
    meta = data['meta']
    assert meta['split'] == 'test' and meta['protocol'] == 'sysu'
    assert meta['dataset_name'] == 'SYSU-MM01'
    assert [s['name'] for s in meta['settings']] == ['all', 'indoor']

    # the row of an image is the checkpoint's feature of that image: read,
    # normalised (ImageNet mean / std, BGR -> RGB) and fed by hand
    with DefaultScope.overwrite_default_scope('mmvireid'):
        model = MODELS.build(Config.fromfile(AGW_SYNTHETIC).model)
    model.load_state_dict(torch.load(checkpoint)['state_dict'])
    model.eval()
    for row in (0, len(items) - 1):
        img = mmcv.imread(data['img_path'][row])[..., ::-1].astype(np.float32)
        img = (img - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375]
        inputs = torch.from_numpy(img.transpose(2, 0, 1).copy()).float()[None]
        modality = torch.tensor([int(data['modality'][row])])
        with torch.no_grad():
            feature = model.predict(inputs, [DataSample()],
                                    modality)[0].feature
        np.testing.assert_allclose(data['features'][row],
                                   feature.numpy(),
                                   atol=1e-4)


def test_extract_train_split(tree, checkpoint, tmp_path):
    out = extract_tool.main([AGW_SYNTHETIC, checkpoint, '--split', 'train'] +
                            cfg_options(tree, tmp_path))
    assert out == str(tmp_path / 'features_train.npz')
    data = load_features(out)
    items = tree_items(tree, 'train')
    assert len(data['pid']) == len(items)
    assert 'is_query' not in data and data['meta']['split'] == 'train'
    # train ids are relabelled 0..5 in sorted order of the official ids
    official = sorted({pid for _, pid, _ in items})
    expected = {p: official.index(pid) for p, pid, _ in items}
    assert [expected[p] for p in data['img_path']] == data['pid'].tolist()


def frame_colours(png):
    """Colour of each framed gallery image of a one-row PNG, left to right:
    True for green, False for red."""
    img = mmcv.imread(png, channel_order='rgb').astype(int)
    green = np.abs(img - GREEN).sum(axis=2) < 40
    red = np.abs(img - RED).sum(axis=2) < 40
    # the pixel row of the most frame colour: the frames' top borders
    row = np.argmax((green | red).sum(axis=1))
    green, red = green[row], red[row]
    coloured = green | red
    starts = np.flatnonzero(coloured & ~np.r_[False, coloured[:-1]])
    ends = np.flatnonzero(coloured & ~np.r_[coloured[1:], False]) + 1
    return [
        bool(green[s:e].sum() > red[s:e].sum()) for s, e in zip(starts, ends)
    ]


def test_visualize_retrieval_ranks_as_the_protocol(test_features, tmp_path):
    data = load_features(test_features)
    root = data['meta']['data_root']
    # one camera-3 query (its camera-2 gallery is removed), one camera-6
    queries = [int(np.flatnonzero(data['camid'] == cam)[0]) for cam in (3, 6)]
    query_list = tmp_path / 'queries.txt'
    query_list.write_text(
        f'{osp.relpath(data["img_path"][queries[0]], root)}\n'
        f'# a comment\n{queries[1]}\n')
    topk = 5
    written = retrieval_tool.main([
        '--features', test_features, '--query-list',
        str(query_list), '--topk',
        str(topk), '--img-size', '96', '48', '--out-dir',
        str(tmp_path / 'vis')
    ])
    assert len(written) == 2 and all(osp.isfile(p) for p in written)

    # the community single-shot draw of trial 0, all-search, by hand
    rng = random.Random(0)
    gallery = []
    for pid in sorted(set(data['pid'].tolist())):
        for cam in (1, 2, 4, 5):
            candidates = sorted(
                (p, i) for i, p in enumerate(data['img_path'])
                if data['pid'][i] == pid and data['camid'][i] == cam)
            if candidates:
                gallery.append(rng.choice(candidates)[1])
    feats = data['features'] / np.linalg.norm(
        data['features'], axis=1, keepdims=True)
    metric, setting = retrieval_tool.get_metric(data, None, 'all')
    q_index, g_index, results = retrieval_tool.rank_trial(
        data, metric, setting, 0, topk)
    assert sorted(g_index.tolist()) == sorted(gallery)
    for png, q in zip(written, queries):
        kept = [
            g for g in gallery
            if not (data['camid'][q] == 3 and data['camid'][g] == 2)
        ]
        ranked = sorted(kept, key=lambda g: 1 - feats[q] @ feats[g])[:topk]
        row = q_index.tolist().index(q)
        assert g_index[results['index'][row]].tolist() == ranked
        expected = [bool(data['pid'][g] == data['pid'][q]) for g in ranked]
        assert frame_colours(png) == expected
        height, width = mmcv.imread(png).shape[:2]
        assert 96 < height < 2 * 96
        assert (topk + 1) * 48 < width < 1.6 * (topk + 1) * 48


def test_visualize_retrieval_ranks_as_the_recorded_metric(
        tree, test_features, tmp_path):
    # a feature file of a config whose metric draws the official galleries
    # and re-ranks
    data = load_features(test_features)
    perm_file = write_rand_perm_cam(tree, str(tmp_path / 'perm.mat'))
    meta = dict(data['meta'], gallery_draw='official',
                rand_perm_file=perm_file, rerank=dict(k1=3, k2=2))
    path = save_features(str(tmp_path / 'features.npz'), data['features'],
                         data['pid'], data['camid'], data['modality'],
                         data['img_path'], data['is_query'],
                         data['is_gallery'], meta)
    data = load_features(path)
    metric, setting = retrieval_tool.get_metric(data, None, 'indoor')
    assert metric.gallery_draw == 'official'
    assert metric.rerank == dict(k1=3, k2=2, lambda_value=0.3)
    q_index, g_index, results = retrieval_tool.rank_trial(
        data, metric, setting, 2, topk=4)

    # the official gallery of trial 2: cameras 1, 2, ids ascending
    rand_perm = load_rand_perm_cam(perm_file)
    item = {
        osp.relpath(p, tree): i
        for i, p in enumerate(data['img_path'])
    }
    gallery = [
        item[f'cam{cam}/{pid:04d}/{rand_perm[cam, pid][2, 0]:04d}.jpg']
        for cam in (1, 2) for pid in sorted(set(data['pid'].tolist()))
        if (cam, pid) in rand_perm
    ]
    assert g_index.tolist() == gallery
    # re-ranked distances of 1 - cos
    feats = data['features'] / np.linalg.norm(
        data['features'], axis=1, keepdims=True)
    dist = 1 - feats @ feats.T
    reranked = re_ranking(dist[np.ix_(q_index, g_index)],
                          dist[np.ix_(q_index, q_index)],
                          dist[np.ix_(g_index, g_index)], k1=3, k2=2)
    for row in range(len(q_index)):
        np.testing.assert_allclose(
            results['distance'][row],
            reranked[row][results['index'][row]],
            atol=1e-5)
    written = retrieval_tool.main([
        '--features', path, '--setting', 'indoor', '--trial', '2',
        '--num-queries', '2', '--topk', '3', '--out-dir',
        str(tmp_path / 'vis')
    ])
    assert len(written) == 2 and all('indoor_trial2' in p for p in written)
    # another protocol than the file's: that protocol's default metric
    metric, setting = retrieval_tool.get_metric(data, 'llcm', None)
    assert metric.gallery_draw == 'random' and metric.rerank is None
    assert setting['name'] == 'vis2nir'


def test_visualize_retrieval_worst_first_grid_from_config(
        tree, checkpoint, tmp_path):
    written = retrieval_tool.main([
        AGW_SYNTHETIC, checkpoint, '--setting', 'indoor', '--worst-first',
        '--num-queries', '0', '--grid', '--topk', '3', '--img-size', '64',
        '32', '--out-dir',
        str(tmp_path / 'vis')
    ] + cfg_options(tree, tmp_path / 'wd'))
    assert [osp.basename(p) for p in written] == ['indoor_trial0_grid.png']
    num_queries = sum(cam in (3, 6) for _, _, cam in tree_items(tree, 'test'))
    height = mmcv.imread(written[0]).shape[0]
    assert num_queries * 64 < height < num_queries * 2 * 64


def test_select_queries_hand_worked():
    ap = np.array([0.5, np.nan, 0.2, 1.0, 0.7])
    select = retrieval_tool.select_queries
    assert select(ap, 0, worst_first=True).tolist() == [2, 0, 4, 3, 1]
    assert select(ap, 2, worst_first=True).tolist() == [2, 0]
    # spread over the query set when unsorted
    assert select(np.zeros(10), 3).tolist() == [0, 3, 6]
    # a query list keeps its order, then sorts on request
    assert select(ap, None, candidates=np.array([3, 0])).tolist() == [3, 0]
    assert select(ap, None, True, np.array([3, 0])).tolist() == [0, 3]


@pytest.fixture
def one_openmp_thread():
    # scikit-learn's Barnes-Hut t-SNE spins OpenMP threads; on a shared
    # 2-core runner oversubscription makes it ~30x slower than one thread
    with threadpool_limits(1, user_api='openmp'):
        yield


def test_vis_tsne_from_features_and_from_config(tree, checkpoint,
                                                test_features, tmp_path,
                                                one_openmp_thread):
    out = tsne_tool.main([
        '--features', test_features, '--num-ids', '3', '--perplexity', '5',
        '--out',
        str(tmp_path / 'tsne.png')
    ])
    assert mmcv.imread(out).shape == (1050, 1050, 3)  # 7 x 7 in at 150 dpi
    out = tsne_tool.main(
        [AGW_SYNTHETIC, checkpoint, '--split', 'train', '--perplexity', '5'] +
        cfg_options(tree, tmp_path / 'wd'))
    assert out == str(tmp_path / 'wd' / 'tsne_train.png')
    assert mmcv.imread(out).shape == (1050, 1050, 3)


# ----------------------------------------------------------------- errors --
def test_wrong_paths(tree, checkpoint, test_features, tmp_path):
    with pytest.raises(FileNotFoundError, match='config .*no such file'):
        extract_tool.main(['nope.py', checkpoint])
    with pytest.raises(FileNotFoundError, match='checkpoint .*no such file'):
        extract_tool.main([AGW_SYNTHETIC, str(tmp_path / 'nope.pth')] +
                          cfg_options(tree, tmp_path))
    with pytest.raises(FileNotFoundError, match='feature file .*nope.npz'):
        tsne_tool.main(['--features', str(tmp_path / 'nope.npz')])
    with pytest.raises(FileNotFoundError, match='data_root .*missing_root'):
        extract_tool.main([AGW_SYNTHETIC, checkpoint] +
                          cfg_options(tmp_path / 'missing_root', tmp_path))
    # the images moved since the extraction
    with pytest.raises(FileNotFoundError, match='images .*--data-root'):
        retrieval_tool.main([
            '--features', test_features, '--data-root',
            str(tmp_path), '--out-dir',
            str(tmp_path)
        ])


def test_checkpoint_of_another_model(tree, checkpoint, tmp_path):
    # a ResNet-50 config given the ResNet-18 checkpoint
    with pytest.raises(ValueError,
                       match=r'does not match the model built '
                       r'from config .*agw_r50_sysu.*missing weights.*shape '
                       r'mismatches'):
        extract_tool.main([R50_CONFIG, checkpoint] +
                          cfg_options(tree, tmp_path))
    assert not glob.glob(str(tmp_path / '*.npz'))


def test_empty_split(tree, checkpoint, tmp_path):
    # test ids with no image in any camera folder
    root = tmp_path / 'empty'
    os.makedirs(root / 'exp')
    for cam in range(1, 7):
        os.symlink(osp.join(tree, f'cam{cam}'), root / f'cam{cam}')
    for name in ('train_id.txt', 'val_id.txt'):
        os.symlink(osp.join(tree, 'exp', name), root / 'exp' / name)
    (root / 'exp' / 'test_id.txt').write_text('998,999\n')
    with pytest.raises(ValueError, match="split 'test' .* has no image"):
        extract_tool.main([AGW_SYNTHETIC, checkpoint] +
                          cfg_options(root, tmp_path))
    # a dataset that loads nothing (indices=0: its first 0 items)
    with pytest.raises(ValueError, match='test split .* has no item'):
        extract_tool.main([AGW_SYNTHETIC, checkpoint] +
                          cfg_options(tree, tmp_path) + [
                              'test_dataloader.dataset.indices=0',
                              'test_dataloader.dataset.serialize_data=False'
                          ])


def test_retrieval_needs_queries_of_the_setting(test_features, tmp_path):
    data = load_features(test_features)
    common = ['--out-dir', str(tmp_path)]
    with pytest.raises(ValueError,
                       match="setting 'cross' .*choose one of "
                       r"\['all', 'indoor'\]"):
        retrieval_tool.main(
            ['--features', test_features, '--setting', 'cross'] + common)
    # no query left
    no_query = str(tmp_path / 'no_query.npz')
    save_features(no_query, data['features'], data['pid'], data['camid'],
                  data['modality'], data['img_path'],
                  np.zeros_like(data['is_query']), data['is_gallery'],
                  data['meta'])
    with pytest.raises(ValueError, match="setting 'all' found 0 queries"):
        retrieval_tool.main(['--features', no_query] + common)
    # a train-split file has no queries at all
    train = str(tmp_path / 'train.npz')
    save_features(train,
                  data['features'],
                  data['pid'],
                  data['camid'],
                  data['modality'],
                  data['img_path'],
                  meta=dict(data['meta'], split='train'))
    with pytest.raises(ValueError, match="'train' split.*test split"):
        retrieval_tool.main(['--features', train] + common)
    # a listed image that is a gallery image, not a query
    rgb = int(np.flatnonzero(data['modality'] == 0)[0])
    listed = tmp_path / 'list.txt'
    listed.write_text(f'{rgb}\n')
    with pytest.raises(ValueError,
                       match=r'items \[%d\] are not queries' % rgb):
        retrieval_tool.main(
            ['--features', test_features, '--query-list',
             str(listed)] + common)
