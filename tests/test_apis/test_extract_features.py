import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmpretrain.structures import DataSample
from torch import nn
from torch.utils.data import DataLoader

from mmvireid.apis import extract_features

NUM = 7  # odd: two ranks with batches of 2 pad the last round


class Items(torch.utils.data.Dataset):
    """Item i: the input (i, -i), sample_idx i, pid i // 2, img_path i.jpg.
    """

    def __len__(self):
        return NUM

    def __getitem__(self, i):
        sample = DataSample(
            metainfo=dict(sample_idx=i, pid=i // 2, img_path=f'{i}.jpg'))
        return dict(inputs=torch.tensor([float(i), -float(i)]),
                    data_samples=sample)


class Doubler(nn.Module):
    """test_step: feature = 2 * input; records the modes it ran in."""

    def __init__(self):
        super().__init__()
        self.modes = []

    def test_step(self, data):
        self.modes.append(self.training)
        for x, sample in zip(data['inputs'], data['data_samples']):
            sample.set_field(2 * x, 'feature', field_type='data')
        return data['data_samples']


def loader(shuffle=False):
    return DataLoader(Items(),
                      batch_size=2,
                      sampler=DefaultSampler(Items(), shuffle=shuffle,
                                             seed=0),
                      collate_fn=pseudo_collate)


def expected_features():
    return torch.stack([2 * torch.tensor([float(i), -float(i)])
                        for i in range(NUM)])


def test_features_and_fields_in_dataset_order(capsys):
    model = Doubler().train()
    # a shuffled sampler still gives dataset order back
    data = extract_features(model, loader(shuffle=True),
                            fields=('pid', 'img_path'))
    assert torch.equal(data['features'], expected_features())
    assert data['pid'].tolist() == [i // 2 for i in range(NUM)]
    assert data['img_path'].tolist() == [f'{i}.jpg' for i in range(NUM)]
    # evaluated in eval mode, handed back in training mode
    assert model.modes and not any(model.modes) and model.training
    # the progress bar ends its line when stdout is not a terminal
    out = capsys.readouterr().out
    assert 'Extracting features' in out and f'{NUM}/{NUM}' in out
    assert out.endswith('\n')
    assert extract_features(model.eval(), loader(),
                            description=None)['features'].shape == (NUM, 2)
    assert not model.training
    assert capsys.readouterr().out == ''


def test_bad_outputs_and_samplers_raise():
    model = Doubler()
    with pytest.raises(KeyError, match="'0.jpg' lacks the field 'camid'"):
        extract_features(model, loader(), fields=('camid', ))

    class NoFeature(Doubler):

        def test_step(self, data):
            return data['data_samples']

    with pytest.raises(ValueError, match="set a \\(D,\\) tensor field "
                       "'feature'"):
        extract_features(NoFeature(), loader())
    every_other = DataLoader(Items(),
                             batch_size=2,
                             sampler=range(0, NUM, 2),
                             collate_fn=pseudo_collate)
    with pytest.raises(ValueError, match=r'3 of the 7 items were never '
                       r'extracted \(e\.g\. sample_idx \[1, 3, 5\]\)'):
        extract_features(model, every_other)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _extract_on_rank(rank, port, out):
    os.environ['OMP_NUM_THREADS'] = '1'
    torch_dist.init_process_group('gloo',
                                  init_method=f'tcp://127.0.0.1:{port}',
                                  rank=rank,
                                  world_size=2)
    try:
        data = extract_features(Doubler(), loader(),
                                fields=('pid', 'img_path'),
                                description=None)
        torch.save(
            dict(features=data['features'],
                 pid=data['pid'].tolist(),
                 img_path=data['img_path'].tolist()), f'{out}{rank}.pth')
    finally:
        torch_dist.destroy_process_group()


@pytest.mark.e2e
def test_two_processes_gather_every_item_in_order(tmp_path):
    # DefaultSampler deals 0, 2, 4, 6 to rank 0 and 1, 3, 5, 0 (padding) to
    # rank 1
    out = str(tmp_path / 'rank')
    mp.spawn(_extract_on_rank, args=(_free_port(), out), nprocs=2)
    for rank in range(2):
        data = torch.load(f'{out}{rank}.pth')
        assert torch.equal(data['features'], expected_features())
        assert data['pid'] == [i // 2 for i in range(NUM)]
        assert data['img_path'] == [f'{i}.jpg' for i in range(NUM)]
        assert np.array_equal(data['pid'], np.arange(NUM) // 2)


class Images(torch.utils.data.Dataset):
    """Item i: a random uint8 image, modality i % 2, sample_idx i."""

    def __init__(self, num=5):
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (num, 3, 32, 16), generator=g,
                                    dtype=torch.uint8)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return dict(
            inputs=self.images[i],
            data_samples=DataSample(
                metainfo=dict(sample_idx=i, modality=i % 2)))


def tiny_vireid():
    from mmvireid.registry import MODELS
    model = MODELS.build(
        dict(
            type='VIReID',
            backbone=dict(
                type='TwoStreamResNet',
                backbone=dict(type='ResNet', depth=18,
                              strides=(1, 2, 2, 1))),
            neck=dict(type='GeneralizedMeanPooling'),
            head=dict(type='BNNeckHead', in_channels=512, num_classes=2),
            data_preprocessor=dict(mean=[128.] * 3, std=[64.] * 3)))
    model.init_weights()
    return model


def test_flip_fusion_mean_of_normalized_views():
    model = tiny_vireid()
    images = Images()
    data_loader = DataLoader(images, batch_size=2,
                             sampler=DefaultSampler(images, shuffle=False),
                             collate_fn=pseudo_collate)
    ours = extract_features(model, data_loader, description=None)
    adca = extract_features(model, data_loader, description=None,
                            flip_fusion='mean_of_normalized')
    # restated: each view's BN-neck feature L2-normalised, then averaged
    model.eval()
    with torch.no_grad():
        batch = model.data_preprocessor(
            pseudo_collate([images[i] for i in range(len(images))]))
        raw = [
            model.head.pre_logits(
                model.extract_feat(inputs, batch['modality']))
            for inputs in (batch['inputs'], batch['inputs'].flip(3))
        ]
        views = [F.normalize(feat, dim=1) for feat in raw]
    torch.testing.assert_close(adca['features'], (views[0] + views[1]) / 2)
    torch.testing.assert_close(ours['features'],
                               F.normalize(raw[0] + raw[1], dim=1))
    # not renormalised: the norm is 1 only where the two views agree
    norms = adca['features'].norm(dim=1)
    assert (norms < 1 - 1e-4).all() and (norms > 0.5).all()
    assert model.flip_test  # switched back on
    with pytest.raises(ValueError, match='flip_fusion must be one of'):
        extract_features(model, data_loader, flip_fusion='mean')
    with pytest.raises(ValueError, match="needs a model with VIReID's "
                       'flip_test switch, got Doubler'):
        extract_features(Doubler(), loader(),
                         flip_fusion='mean_of_normalized')
