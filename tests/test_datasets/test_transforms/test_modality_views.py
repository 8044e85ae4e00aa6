import numpy as np
import pytest
import torch
from mmengine.runner import Runner

from mmvireid.datasets import multi_view_collate
from mmvireid.registry import FUNCTIONS, TRANSFORMS
from mmvireid.structures import IR, RGB

PACK = dict(type='PackVIReIDInputs')
FLIP = dict(type='RandomFlip', prob=1.0, direction='horizontal')
# view 1 of an RGB image: as loaded; view 2: its blue channel (BGR index 0)
# copied to all three (ChannelExchange with one outcome); IR: flipped
VIEWS = dict(
    rgb=[[PACK],
         [dict(type='ChannelExchange', gray=2, prob=1.0), PACK]],
    ir=[[FLIP, PACK]])


def item(i, modality):
    """An item as LoadVIReIDImage leaves it: a 4 x 2 BGR image whose
    channels differ."""
    img = (np.arange(24, dtype=np.uint8).reshape(4, 2, 3) + 10 * i)
    return dict(img=img, modality=modality, sample_idx=i,
                img_path=f'{i}.jpg', pseudo_label=i % 2, img_shape=(4, 2),
                ori_shape=(4, 2))


def test_rgb_items_get_two_packed_views_ir_items_one():
    transform = TRANSFORMS.build(dict(type='ModalityViews', views=VIEWS))
    np.random.seed(0)
    rgb = transform(item(0, RGB))
    assert len(rgb['inputs']) == len(rgb['data_samples']) == 2
    plain, exchanged = rgb['inputs']
    img = item(0, RGB)['img']
    assert torch.equal(plain, torch.from_numpy(img).permute(2, 0, 1))
    # one colour channel in all three planes
    assert all(torch.equal(exchanged[c], exchanged[0]) for c in range(3))
    assert any(torch.equal(exchanged[0], torch.from_numpy(img[..., c]))
               for c in range(3))
    for sample in rgb['data_samples']:
        assert sample.sample_idx == 0 and sample.pseudo_label == 0
        assert sample.modality == RGB
    assert rgb['data_samples'][0] is not rgb['data_samples'][1]
    ir = transform(item(1, IR))
    assert isinstance(ir['inputs'], torch.Tensor)
    assert torch.equal(ir['inputs'],
                       torch.from_numpy(item(1, IR)['img'][:, ::-1].copy()
                                        ).permute(2, 0, 1))
    assert ir['data_samples'].flip


def test_views_are_checked():
    with pytest.raises(ValueError, match='a key of views'):
        TRANSFORMS.build(dict(type='ModalityViews', views=dict(depth=[[]])))
    with pytest.raises(ValueError, match=r"views\['ir'\] must be a "
                       'non-empty list of pipelines'):
        TRANSFORMS.build(dict(type='ModalityViews', views=dict(ir=[PACK])))
    transform = TRANSFORMS.build(
        dict(type='ModalityViews', views=dict(rgb=VIEWS['rgb'])))
    with pytest.raises(KeyError, match="item '1.jpg' is ir and views has "
                       r"pipelines for \['rgb'\] only"):
        transform(item(1, IR))
    unpacked = TRANSFORMS.build(
        dict(type='ModalityViews', views=dict(rgb=[[FLIP], [FLIP]])))
    with pytest.raises(KeyError, match='must end with PackVIReIDInputs'):
        unpacked(item(0, RGB))


def test_collate_puts_one_sample_per_view_view_by_view():
    transform = TRANSFORMS.build(dict(type='ModalityViews', views=VIEWS))
    items = [item(0, RGB), item(1, RGB), item(2, IR), item(3, IR)]
    batch = multi_view_collate([transform(dict(i)) for i in items])
    assert len(batch['inputs']) == len(batch['data_samples']) == 6
    # the first view of every item, then the second views (RGB only)
    assert [s.sample_idx for s in batch['data_samples']] == [0, 1, 2, 3, 0, 1]
    assert [s.modality for s in batch['data_samples']] == [RGB] * 2 + [
        IR
    ] * 2 + [RGB] * 2
    assert torch.equal(batch['inputs'][0],
                       transform(item(0, RGB))['inputs'][0])
    # single-view items collate as pseudo_collate does
    assert multi_view_collate([transform(item(2, IR))])['data_samples'][
        0].sample_idx == 2


def test_a_loader_names_it_with_the_scope():
    assert FUNCTIONS.get('multi_view_collate') is multi_view_collate

    class Items(torch.utils.data.Dataset):

        def __init__(self):
            self.transform = TRANSFORMS.build(
                dict(type='ModalityViews', views=VIEWS))

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return self.transform(item(i, RGB if i < 2 else IR))

    loader = Runner.build_dataloader(
        dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='mmvireid.multi_view_collate'),
            dataset=Items()),
        seed=0)
    batch = next(iter(loader))
    assert [s.sample_idx for s in batch['data_samples']] == [0, 1, 2, 3, 0, 1]
