"""The layout writers of mmvireid.testing.synthetic_vireid, read back by
the real loaders."""
import re
import runpy
from pathlib import Path

import pytest
from PIL import Image

from mmvireid.datasets import LLCMDataset, RegDBDataset, SYSUMM01Dataset
from mmvireid.structures import IR, RGB
from mmvireid.testing import make_synthetic_vireid, preset_kwargs

TOOL = Path(__file__).parents[2] / 'tools' / 'dataset_converters' / \
    'make_synthetic_vireid.py'
TINY = dict(
    num_train_ids=2, num_test_ids=2, num_imgs_per_cam=1, img_size=(32, 16))


def tree_bytes(root):
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in Path(root).rglob('*') if p.is_file()
    }


@pytest.mark.parametrize('layout', ['sysu', 'regdb', 'llcm'])
def test_deterministic_from_seed(tmp_path, layout):
    a = make_synthetic_vireid(str(tmp_path / 'a'), layout, seed=3, **TINY)
    b = make_synthetic_vireid(str(tmp_path / 'b'), layout, seed=3, **TINY)
    c = make_synthetic_vireid(str(tmp_path / 'c'), layout, seed=4, **TINY)
    assert Path(a).name == {'sysu': 'SYSU-MM01', 'regdb': 'RegDB',
                            'llcm': 'LLCM'}[layout]
    assert tree_bytes(a) == tree_bytes(b)
    assert tree_bytes(a) != tree_bytes(c)


def pid_cams(root):
    """{official id: set of camera numbers} from the cam*/<id>/ folders."""
    cams = {}
    for folder in Path(root).glob('cam*/*'):
        if any(folder.iterdir()):
            cams.setdefault(int(folder.name), set()).add(int(
                folder.parent.name[3:]))
    return cams


def test_sysu_layout(sysu_root):
    exp = {
        name: Path(sysu_root, 'exp', f'{name}_id.txt').read_text()
        for name in ('train', 'val', 'test')
    }
    assert all(re.fullmatch(r'\d+(,\d+)*\n', text) for text in exp.values())
    images = list(Path(sysu_root).glob('cam*/*/*'))
    assert all(re.fullmatch(r'cam[1-6]/\d{4}/\d{4}\.jpg',
                            str(p.relative_to(sysu_root))) for p in images)
    # 64 ids, each in 3 to 6 cameras, 8 images per camera (the defaults)
    assert 64 * 3 * 8 <= len(images) <= 64 * 6 * 8
    for pid, cams in pid_cams(sysu_root).items():
        assert 1 in cams, pid
        assert len(cams & {1, 2, 4, 5}) >= 2 and cams & {3, 6}, (pid, cams)
    train = SYSUMM01Dataset(sysu_root, split='train')
    test = SYSUMM01Dataset(sysu_root, split='test')
    assert (train.num_pids, test.num_pids) == (32, 32)
    assert len(train) + len(test) == len(images)


def test_regdb_layout(regdb_root):
    root = Path(regdb_root)
    for modality, letter in (('Visible', 'v'), ('Thermal', 't')):
        folders = sorted(root.glob(f'{modality}/*'))
        assert len(folders) == 10
        for folder in folders:
            names = [p.name for p in folder.iterdir()]
            assert len(names) == 10
            assert all(
                re.fullmatch(rf'(male|female)_(front|back)_{letter}_\d{{5}}_1'
                             r'\.bmp', n) for n in names)
    test_pid_sets = set()
    for trial in range(1, 11):
        # serialize_data=False skips MMEngine's gc.collect() per dataset
        train = RegDBDataset(
            regdb_root, split='train', trial=trial, serialize_data=False)
        test = RegDBDataset(
            regdb_root, split='test', trial=trial, serialize_data=False)
        assert (len(train), len(test)) == (6 * 20, 4 * 20)
        train_ids = {Path(train.get_data_info(i)['img_path']).parent.name
                     for i in range(len(train))}
        test_ids = {Path(test.get_data_info(i)['img_path']).parent.name
                    for i in range(len(test))}
        assert len(train_ids | test_ids) == 10 and not train_ids & test_ids
        test_pid_sets.add(frozenset(test_ids))
    assert len(test_pid_sets) > 1  # every trial draws its own split


def test_llcm_layout(llcm_root):
    root = Path(llcm_root)
    assert sorted(p.name for p in (root / 'test_vis').iterdir()) == \
        [f'cam{c}' for c in range(1, 10)]
    assert sorted(p.name for p in (root / 'test_nir').iterdir()) == \
        [f'cam{c}' for c in (1, 2, 4, 5, 6, 7, 8, 9)]
    images = list(root.glob('*/cam*/*/*'))
    for p in images:
        camid, pid = int(p.parts[-3][3:]), int(p.parent.name)
        assert re.fullmatch(rf'{pid:04d}_c{camid:02d}_s\d{{6}}_f\d+_\d+\.jpg',
                            p.name)
    assert not list(root.glob('*_nir/cam3'))
    cams = {}
    for p in images:
        key = (int(p.parent.name), p.parts[-4].endswith('vis'))
        cams.setdefault(key, set()).add(int(p.parts[-3][3:]))
    for pid in {pid for pid, _ in cams}:
        vis, nir = cams[(pid, True)], cams[(pid, False)]
        assert vis - nir and nir - vis, (pid, vis, nir)
    train = LLCMDataset(llcm_root, split='train')
    test = LLCMDataset(llcm_root, split='test')
    assert (train.num_pids, test.num_pids) == (6, 6)
    assert len(train) + len(test) == len(images)


def test_cli_writes_loadable_trees(tmp_path):
    main = runpy.run_path(str(TOOL))['main']
    main([
        '--layout', 'all', '--out',
        str(tmp_path), '--num-train-ids', '2', '--num-test-ids', '1',
        '--num-imgs-per-cam', '1', '--img-size', '32', '16', '--seed', '5'
    ])
    assert SYSUMM01Dataset(str(tmp_path / 'SYSU-MM01')).num_pids == 2
    assert RegDBDataset(str(tmp_path / 'RegDB'), split='test').num_pids == 1
    llcm = LLCMDataset(str(tmp_path / 'LLCM'))
    assert Image.open(llcm.get_data_info(0)['img_path']).size == (16, 32)
    with pytest.raises(FileExistsError, match='overwrite'):
        main(['--layout', 'regdb', '--out', str(tmp_path)])
    stale = tmp_path / 'RegDB' / 'stale.txt'
    stale.write_text('left over')
    main(['--layout', 'regdb', '--out', str(tmp_path), '--overwrite',
          '--num-train-ids', '2', '--num-test-ids', '1',
          '--img-size', '32', '16'])
    assert not stale.exists()


def test_presets_hold_the_official_counts():
    sysu = preset_kwargs('sysu-full')
    assert (sysu['num_train_ids'], sysu['num_val_ids'],
            sysu['num_test_ids']) == (395, 99, 96)
    assert sysu['num_images'] == dict(train=(22258, 11909),
                                      test=(7813, 3803))
    llcm = preset_kwargs('llcm-full')
    assert (llcm['num_train_ids'], llcm['num_test_ids']) == (713, 351)
    assert llcm['num_images'] == dict(train=(16946, 13975), test=(8680, 7166))
    assert preset_kwargs('regdb-full')['num_train_ids'] == 206
    small = preset_kwargs('sysu-full', scale=1 / 32)
    assert small['num_images']['train'] == (696, 372)
    assert (small['num_train_ids'], small['num_val_ids']) == (12, 3)
    with pytest.raises(ValueError, match='scale must be in'):
        preset_kwargs('sysu-full', scale=2)
    with pytest.raises(ValueError, match='preset must be one of'):
        preset_kwargs('market-full')


def modality_counts(dataset):
    modalities = dataset.modalities
    return int((modalities == RGB).sum()), int((modalities == IR).sum())


@pytest.mark.parametrize('preset', ['sysu-full', 'llcm-full'])
def test_scaled_presets_write_exact_counts(tmp_path, preset):
    kwargs = preset_kwargs(preset, scale=1 / 64)
    root = make_synthetic_vireid(str(tmp_path), img_size=(32, 16), **kwargs)
    dataset_cls = SYSUMM01Dataset if preset == 'sysu-full' else LLCMDataset
    train = dataset_cls(root, split='train')
    test = dataset_cls(root, split='test')
    assert train.num_pids == kwargs['num_train_ids']
    assert test.num_pids == kwargs['num_test_ids']
    assert modality_counts(train) == kwargs['num_images']['train']
    assert modality_counts(test) == kwargs['num_images']['test']
    if preset == 'sysu-full':
        val = Path(root, 'exp', 'val_id.txt').read_text().split(',')
        assert len(val) == kwargs['num_val_ids']


def test_cli_preset(tmp_path):
    main = runpy.run_path(str(TOOL))['main']
    main(['--preset', 'regdb-full', '--scale', '0.02', '--out',
          str(tmp_path), '--img-size', '32', '16'])
    regdb = RegDBDataset(str(tmp_path / 'RegDB'))
    assert regdb.num_pids == 4 and len(regdb) == 4 * 10 * 2
    with pytest.raises(SystemExit):
        main(['--preset', 'sysu-full', '--layout', 'sysu', '--out',
              str(tmp_path)])
    with pytest.raises(SystemExit):
        main(['--layout', 'sysu', '--scale', '0.5', '--out', str(tmp_path)])


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='layout must be one of'):
        make_synthetic_vireid(str(tmp_path), 'market')
    with pytest.raises(ValueError, match='num_train_ids >= 2'):
        make_synthetic_vireid(str(tmp_path), 'sysu', num_train_ids=1)
    with pytest.raises(ValueError, match='img_size'):
        make_synthetic_vireid(str(tmp_path), 'sysu', img_size=(8, 4))
    with pytest.raises(ValueError, match='num_images must be'):
        make_synthetic_vireid(str(tmp_path), 'regdb',
                              num_images=dict(train=(2, 2), test=(2, 2)))
    with pytest.raises(ValueError, match='every id needs one'):
        make_synthetic_vireid(str(tmp_path), 'sysu', num_train_ids=4,
                              num_test_ids=2,
                              num_images=dict(train=(3, 4), test=(2, 2)))
    with pytest.raises(ValueError, match='num_val_ids must be in'):
        make_synthetic_vireid(str(tmp_path), 'sysu', num_train_ids=4,
                              num_val_ids=4)


@pytest.mark.parametrize('layout,constants', [
    ('sysu', dict(RGB_CAMIDS=(2, 7, 8), IR_CAMIDS=(4, ), CAM_FOLDER='c{}',
                  ID_LISTS=dict(train='a/tr.txt', val='a/va.txt',
                                test='b/te.txt'))),
    ('regdb', dict(IMG_FOLDERS={0: 'Vis', 1: 'Th'},
                   INDEX_FILE='lists/{trial}_{split}_{word}.txt')),
    ('llcm', dict(CAMIDS={0: (1, 5, 7), 1: (2, 5)}, CAM_FOLDER='c{}',
                  TEST_ID_LIST='t.txt',
                  TRAIN_INDEX={0: 'v.txt', 1: 'n.txt'},
                  IMG_FOLDERS={'train': {0: 'tv', 1: 'tn'},
                               'test': {0: 'ev', 1: 'en'}})),
])
def test_writers_follow_the_loader_constants(tmp_path, monkeypatch, layout,
                                             constants):
    """The writers take cameras, folders and file names from the loader
    class: change them there and the written tree follows."""
    dataset_cls = {'sysu': SYSUMM01Dataset, 'regdb': RegDBDataset,
                   'llcm': LLCMDataset}[layout]
    for name, value in constants.items():
        monkeypatch.setattr(dataset_cls, name, value)
    root = Path(make_synthetic_vireid(str(tmp_path), layout, **TINY))
    names = {str(p.relative_to(root)) for p in root.rglob('*')}
    if layout == 'sysu':
        assert {'a/tr.txt', 'a/va.txt', 'b/te.txt'} <= names
        assert {n.split('/')[0] for n in names} == \
            {'a', 'b', 'c2', 'c4', 'c7', 'c8'}
        test = SYSUMM01Dataset(str(root), split='test')
        assert set(test.camids[test.modalities == 1]) == {4}
    elif layout == 'regdb':
        assert 'lists/10_test_thermal.txt' in names
        assert {n.split('/')[0] for n in names} == {'Vis', 'Th', 'lists'}
        test = RegDBDataset(str(root), split='test', trial=10)
        assert test.num_pids == 2
    else:
        assert {'t.txt', 'v.txt', 'n.txt', 'ev/c7', 'en/c2'} <= names
        assert {n.split('/')[0] for n in names} == \
            {'t.txt', 'v.txt', 'n.txt', 'tv', 'tn', 'ev', 'en'}
        test = LLCMDataset(str(root), split='test')
        assert set(test.camids[test.modalities == 1]) <= {2, 5}
    assert len(dataset_cls(str(root), split='train')) > 0
