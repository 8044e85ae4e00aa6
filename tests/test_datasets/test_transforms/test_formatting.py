import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import IR

IMG = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)


def item(**extra):
    results = dict(
        img=IMG.copy(),
        img_path='cam3/0007/0001.jpg',
        pid=np.int64(7),
        camid=3,
        modality=IR,
        sample_idx=11,
        ori_shape=(288, 144),
        img_shape=(2, 3),
        something_else='dropped')
    results.update(extra)
    return results


def test_packs_image_and_fields():
    packed = TRANSFORMS.build(dict(type='PackVIReIDInputs'))(
        item(is_query=True, pseudo_label=2))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 2, 3)
    # CHW: channel c of pixel (y, x) is IMG[y, x, c]
    assert inputs[2, 1, 0] == IMG[1, 0, 2]
    assert torch.equal(inputs, torch.from_numpy(IMG.transpose(2, 0, 1)))
    assert isinstance(sample, DataSample)
    assert torch.equal(sample.gt_label, torch.tensor([7]))
    meta = sample.metainfo
    assert meta['pid'] == 7 and meta['camid'] == 3 and meta['modality'] == IR
    assert meta['sample_idx'] == 11
    assert meta['img_path'] == 'cam3/0007/0001.jpg'
    assert meta['ori_shape'] == (288, 144) and meta['img_shape'] == (2, 3)
    assert meta['is_query'] is True and meta['pseudo_label'] == 2
    assert 'is_gallery' not in meta and 'something_else' not in meta


def test_outlier_and_missing_pid():
    transform = TRANSFORMS.build(dict(type='PackVIReIDInputs'))
    sample = transform(item(pid=-1))['data_samples']
    assert torch.equal(sample.gt_label, torch.tensor([-1]))
    results = item()
    del results['pid']
    sample = transform(results)['data_samples']
    assert 'gt_label' not in sample and 'pid' not in sample.metainfo


def test_required_fields_and_bad_pid():
    transform = TRANSFORMS.build(dict(type='PackVIReIDInputs'))
    results = item()
    del results['modality']
    with pytest.raises(KeyError, match=r"0001\.jpg.*\['modality'\]"):
        transform(results)
    with pytest.raises(TypeError):
        transform(item(pid=7.5))


def test_custom_meta_keys_and_repr():
    transform = TRANSFORMS.build(
        dict(type='PackVIReIDInputs', meta_keys=['pid', 'modality']))
    assert set(transform(
        item())['data_samples'].metainfo) == {'pid', 'modality'}
    assert repr(transform) == (
        "PackVIReIDInputs(meta_keys=('pid', 'modality'))")
