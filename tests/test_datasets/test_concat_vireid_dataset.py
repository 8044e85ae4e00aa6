"""VIReIDConcatDataset: disjoint identities and global sample indices;
MMEngine's ConcatDataset merges them and is refused for training."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch.nn as nn
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from mmvireid.datasets import LLCMDataset, SYSUMM01Dataset, VIReIDConcatDataset
from mmvireid.engine.hooks import CheckTrainConfigHook
from mmvireid.registry import DATA_SAMPLERS, DATASETS
from mmvireid.structures import IR, RGB
from mmvireid.testing import make_synthetic_vireid

PIPELINE = [
    dict(type='LoadVIReIDImage'),
    dict(type='PackVIReIDInputs', meta_keys=('pid', 'sample_idx', 'modality'))
]


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    out = tmp_path_factory.mktemp('concat')
    kwargs = dict(num_test_ids=2, num_imgs_per_cam=1, img_size=(32, 16))
    return (make_synthetic_vireid(str(out / 'a'), 'sysu', seed=0,
                                  num_train_ids=4, **kwargs),
            make_synthetic_vireid(str(out / 'b'), 'llcm', seed=1,
                                  num_train_ids=3, **kwargs))


def parts(roots, pipeline=()):
    init_default_scope('mmvireid')
    return [
        SYSUMM01Dataset(roots[0], pipeline=list(pipeline)),
        LLCMDataset(roots[1], pipeline=list(pipeline)),
    ]


def test_identities_stay_apart_and_indices_are_global(roots):
    sysu, llcm = parts(roots)
    assert sysu.num_pids == 4 and llcm.num_pids == 3
    concat = DATASETS.build(
        dict(type='VIReIDConcatDataset',
             datasets=[
                 dict(type='SYSUMM01Dataset', data_root=roots[0],
                      pipeline=PIPELINE),
                 dict(type='LLCMDataset', data_root=roots[1],
                      pipeline=PIPELINE),
             ]))
    n = len(sysu)
    assert len(concat) == n + len(llcm)
    assert concat.part_ranges == [(0, n), (n, len(concat))]
    names = [part.metainfo['dataset_name'] for part in (sysu, llcm)]
    assert concat.metainfo == dict(dataset_name='+'.join(names),
                                   split='train')
    expected = np.concatenate([sysu.pids, llcm.pids + 4])
    np.testing.assert_array_equal(concat.pids, expected)
    assert concat.num_pids == 7
    np.testing.assert_array_equal(
        concat.modalities, np.concatenate([sysu.modalities,
                                           llcm.modalities]))
    np.testing.assert_array_equal(
        concat.camids, np.concatenate([sysu.camids, llcm.camids]))
    for idx in (0, n - 1, n, len(concat) - 1, -1):
        info = concat.get_data_info(idx)
        item = concat[idx]['data_samples']
        position = idx % len(concat)
        assert info['sample_idx'] == item.sample_idx == position
        assert info['pid'] == item.pid == int(item.gt_label) == \
            expected[position]
    # the parts are left as they were
    assert sysu.pids.max() == 3 and llcm.get_data_info(0)['pid'] < 3


def test_mmengine_concat_merges_identities_and_is_refused(roots, tmp_path):
    sysu, llcm = parts(roots, PIPELINE)
    plain = ConcatDataset([sysu, llcm], ignore_keys=['dataset_name'])
    # the problem: pid 0 of both datasets is label 0, indices restart
    first = plain[len(sysu) + int(np.argmax(llcm.pids == 0))]['data_samples']
    assert int(first.gt_label) == 0 and first.sample_idx < len(sysu)

    def runner(dataset):
        sampler = DATA_SAMPLERS.build(
            dict(type='CrossModalityIdentitySampler', num_pids=2,
                 num_instances=1),
            default_args=dict(dataset=dataset, seed=0))
        model = nn.Module()
        model.head = nn.Module()
        model.head.num_classes = 7
        return SimpleNamespace(
            train_dataloader=DataLoader(dataset, batch_size=4,
                                        sampler=sampler),
            model=model)

    with pytest.raises(ValueError, match="use type='VIReIDConcatDataset'"):
        CheckTrainConfigHook().before_train(runner(plain))
    concat = VIReIDConcatDataset(parts(roots, PIPELINE))
    CheckTrainConfigHook().before_train(runner(concat))
    # the sampler draws identities of both datasets, each in both modalities
    labels = {int(concat[i]['data_samples'].gt_label)
              for i in runner(concat).train_dataloader.sampler}
    assert labels & set(range(4)) and labels & set(range(4, 7))


def test_pseudo_labels_split_over_the_parts(roots):
    concat = VIReIDConcatDataset(parts(roots))
    sysu, llcm = concat.datasets
    assert concat.pseudo_labels is None
    labels = np.arange(len(concat)) % 5 - 1
    concat.set_pseudo_labels(labels)
    np.testing.assert_array_equal(concat.pseudo_labels, labels)
    np.testing.assert_array_equal(llcm.pseudo_labels, labels[len(sysu):])
    assert concat.get_data_info(len(sysu))['pseudo_label'] == \
        labels[len(sysu)]
    with pytest.raises(ValueError, match=f'expected {len(concat)} labels'):
        concat.set_pseudo_labels(labels[:-1])
    concat.set_pseudo_labels(None)
    assert sysu.pseudo_labels is None and llcm.pseudo_labels is None


def test_with_pipeline_is_a_view(roots):
    concat = VIReIDConcatDataset(parts(roots))
    view = concat.with_pipeline(PIPELINE)
    assert len(view) == len(concat) and view.part_ranges == \
        concat.part_ranges
    assert view[3]['data_samples'].sample_idx == 3
    assert not concat.datasets[0].pipeline.transforms
    assert view.datasets[0].data_bytes is concat.datasets[0].data_bytes


def test_refuses_test_splits_and_other_datasets(roots):
    init_default_scope('mmvireid')
    test_split = SYSUMM01Dataset(roots[0], split='test')
    with pytest.raises(TypeError, match=r"datasets\[1\] must be a VI-ReID "
                       "training set.*split 'test'"):
        VIReIDConcatDataset([parts(roots)[0], test_split])
    with pytest.raises(ValueError, match='empty'):
        VIReIDConcatDataset([])
    assert {RGB, IR} == set(VIReIDConcatDataset(parts(roots)).modalities)
