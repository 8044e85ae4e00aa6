import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvireid.registry import MODELS


def build_model(backbone=None):
    backbone = backbone or dict(
        type='TwoStreamResNet',
        backbone=dict(type='ResNet', depth=18, strides=(1, 2, 2, 1)))
    model = MODELS.build(
        dict(
            type='VIReID',
            backbone=backbone,
            neck=dict(type='GeneralizedMeanPooling'),
            head=dict(type='BNNeckHead', in_channels=512, num_classes=2)))
    model.init_weights()
    return model


def samples(n=4):
    return [
        DataSample(metainfo=dict(modality=i % 2)).set_gt_label(i // 2)
        for i in range(n)
    ]


def test_loss_mode_returns_named_losses():
    model = build_model()
    losses = model(torch.randn(4, 3, 64, 32), samples(), mode='loss')
    assert {'loss_id', 'loss_triplet'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.backbone.streams[0].conv1.weight.grad is not None
    assert model.backbone.streams[1].conv1.weight.grad is not None


def test_predict_is_flip_averaged_and_normalised():
    model = build_model()
    model.eval()
    x = torch.randn(4, 3, 64, 32)
    with torch.no_grad():
        out = model(x, samples(), mode='predict')
        feats = torch.stack([s.feature for s in out])
        # independent: tensor mode -> BN-neck, on the image and its flip
        plain = model.head.bnneck(model(x, samples(), mode='tensor')[-1])
        flipped = model.head.bnneck(
            model(x.flip(3), samples(), mode='tensor')[-1])
    torch.testing.assert_close(feats, F.normalize(plain + flipped, dim=1))
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(4))


def test_one_stream_mmpretrain_backbone():
    model = build_model(
        dict(type='ResNet', depth=18, strides=(1, 2, 2, 1)))
    losses = model(torch.randn(4, 3, 64, 32), samples(), mode='loss')
    assert torch.isfinite(losses['loss_id'])
