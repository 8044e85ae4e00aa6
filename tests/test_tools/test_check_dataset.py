"""tools/dataset_converters/check_dataset.py on synthetic trees."""
import glob
import importlib.util
import os.path as osp
from collections import Counter

import pytest

from mmvireid.testing import make_synthetic_vireid

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'check_dataset',
    osp.join(REPO, 'tools', 'dataset_converters', 'check_dataset.py'))
check_dataset = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_dataset)


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('check'))
    kwargs = dict(num_train_ids=4, num_test_ids=3, img_size=(32, 16))
    return {
        layout: make_synthetic_vireid(out, layout, **kwargs)
        for layout in ('sysu', 'regdb')
    }


def sysu_counts(root, split):
    """Images per camera of a split, counted off the tree."""
    names = ['test_id.txt'
             ] if split == 'test' else ['train_id.txt', 'val_id.txt']
    ids = set()
    for name in names:
        with open(osp.join(root, 'exp', name)) as f:
            ids |= {int(i) for i in f.read().split(',')}
    paths = [
        p for p in glob.glob(osp.join(root, 'cam*', '*', '*.jpg'))
        if int(osp.basename(osp.dirname(p))) in ids
    ]
    cams = Counter(int(p.split(osp.sep)[-3][3:]) for p in paths)
    return ids, cams


def test_sysu_counts_match_the_tree(roots, capsys):
    root = roots['sysu']
    summaries = check_dataset.main(['--layout', 'sysu', '--data-root', root])
    for split in ('train', 'test'):
        ids, cams = sysu_counts(root, split)
        summary = summaries[split]
        assert summary['ids'] == len(ids)
        assert summary['images'] == sum(cams.values())
        rgb = {c: n for c, n in cams.items() if c not in (3, 6)}
        ir = {c: n for c, n in cams.items() if c in (3, 6)}
        assert summary['modalities']['rgb']['cameras'] == rgb
        assert summary['modalities']['ir']['cameras'] == ir
        assert summary['modalities']['ir']['images'] == sum(ir.values())
    assert summaries['test']['queries'] == dict(
        rgb=0, ir=summaries['test']['modalities']['ir']['images'])
    assert 'queries' not in summaries['train']
    printed = capsys.readouterr().out
    assert f'SYSU-MM01 train: {summaries["train"]["images"]} images' in printed
    assert 'differs from the official release: ids: 4 here, 395' in printed


def test_regdb_trial_and_config_mode(roots):
    summaries = check_dataset.main(
        ['--layout', 'regdb', '--data-root', roots['regdb'], '--trial', '2'])
    # ten images per id per modality, 4 train / 3 test ids in every trial
    for split, ids in (('train', 4), ('test', 3)):
        for modality in ('rgb', 'ir'):
            assert summaries[split]['modalities'][modality]['images'] == \
                10 * ids
    agw_synthetic = osp.join(REPO, 'configs', 'agw',
                             'agw_r18_synthetic_sysu.py')
    root = roots['sysu']
    summaries = check_dataset.main([
        agw_synthetic, '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}'
    ])
    assert summaries['train']['ids'] == 4 and summaries['test']['ids'] == 3


def test_official_differences():

    def summary(ids, rgb, ir):
        return dict(ids=ids,
                    modalities=dict(rgb=dict(images=rgb), ir=dict(images=ir)))

    differences = check_dataset.official_differences
    assert differences('SYSU-MM01', 'train', summary(395, 22258, 11909)) == []
    # the known broken preparation
    assert differences('SYSU-MM01', 'train', summary(367, 22258, 11333)) == [
        'ids: 367 here, 395 in the official release',
        'ir: 11333 here, 11909 in the official release'
    ]
    assert differences('Market-1501', 'train', summary(1, 1, 1)) is None


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='data_root .*nope'):
        check_dataset.main(
            ['--layout', 'llcm', '--data-root',
             str(tmp_path / 'nope')])
    with pytest.raises(ValueError, match='give a CONFIG, or --layout'):
        check_dataset.main([])
    with pytest.raises(ValueError, match='--layout needs --data-root'):
        check_dataset.main(['--layout', 'sysu'])
    with pytest.raises(FileNotFoundError, match='config .*no such file'):
        check_dataset.main([str(tmp_path / 'nope.py')])
