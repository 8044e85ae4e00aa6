import json

import numpy as np
import pytest

from mmvireid.apis import load_features, save_features


def arrays(n=3, d=4):
    rng = np.random.default_rng(0)
    return dict(features=rng.random((n, d)),
                pid=np.arange(n) + 10,
                camid=np.ones(n, dtype=int),
                modality=np.array([0, 1, 0])[:n],
                img_path=[f'cam1/{i:04d}/0001.jpg' for i in range(n)])


def test_round_trip_of_a_test_split(tmp_path):
    data = arrays()
    path = save_features(str(tmp_path / 'sub' / 'f.npz'),
                         **data,
                         is_query=[True, False, False],
                         is_gallery=[False, True, True],
                         meta=dict(split='test', protocol='sysu'))
    loaded = load_features(path)
    assert loaded['features'].dtype == np.float32
    np.testing.assert_allclose(loaded['features'], data['features'], rtol=1e-6)
    assert loaded['pid'].tolist() == [10, 11, 12]
    assert loaded['img_path'].tolist() == data['img_path']
    assert loaded['is_query'].tolist() == [True, False, False]
    assert loaded['meta'] == dict(split='test', protocol='sysu')
    # a plain numpy load needs no pickle
    with np.load(path, allow_pickle=False) as npz:
        assert json.loads(str(npz['meta']))['protocol'] == 'sysu'


def test_train_split_has_no_flags(tmp_path):
    path = save_features(str(tmp_path / 'f.npz'), **arrays())
    loaded = load_features(path)
    assert 'is_query' not in loaded and loaded['meta'] == {}


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="feature file '.*nope.npz'"):
        load_features(str(tmp_path / 'nope.npz'))
    (tmp_path / 'text.npz').write_text('not an npz')
    with pytest.raises(ValueError, match='not a readable .npz'):
        load_features(str(tmp_path / 'text.npz'))
    np.savez(tmp_path / 'partial.npz', features=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"lacks the arrays \['pid'"):
        load_features(str(tmp_path / 'partial.npz'))
    data = arrays()
    np.savez(tmp_path / 'short.npz',
             meta=np.asarray('{}'),
             **dict(data, pid=np.arange(2)))
    with pytest.raises(ValueError, match=r'pid must have shape \(3,\)'):
        load_features(str(tmp_path / 'short.npz'))
    np.savez(tmp_path / 'objects.npz',
             meta=np.asarray('{}'),
             **dict(data, img_path=np.array([None] * 3, dtype=object)))
    with pytest.raises(ValueError, match='without pickled objects'):
        load_features(str(tmp_path / 'objects.npz'))


def test_save_checks(tmp_path):
    with pytest.raises(ValueError, match='must end with .npz'):
        save_features(str(tmp_path / 'f.npy'), **arrays())
    with pytest.raises(ValueError, match='both is_query and is_gallery'):
        save_features(str(tmp_path / 'f.npz'), **arrays(), is_query=[True] * 3)
    with pytest.raises(ValueError, match='NaN or inf'):
        save_features(str(tmp_path / 'f.npz'),
                      **dict(arrays(), features=np.full((3, 2), np.nan)))
    with pytest.raises(ValueError, match='non-empty'):
        save_features(str(tmp_path / 'f.npz'),
                      **dict(arrays(), features=np.zeros((0, 2))))
