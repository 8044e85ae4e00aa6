import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvireid.models.utils import routing_mode
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB


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


def preprocessed(model, n=4):
    """A batch as the data loader gives it, through the model's data
    preprocessor: uint8 images (3, H, W) and data samples."""
    g = torch.Generator().manual_seed(0)
    images = [
        torch.randint(0, 256, (3, 64, 32), generator=g, dtype=torch.uint8)
        for _ in range(n)
    ]
    return model.data_preprocessor(
        dict(inputs=images, data_samples=samples(n)), training=True)


def test_preprocessor_hands_the_modality_tensor():
    model = build_model()
    data = preprocessed(model)
    assert set(data) == {'inputs', 'data_samples', 'modality'}
    assert data['modality'].tolist() == [RGB, IR, RGB, IR]
    assert data['modality'].dtype == torch.long
    assert data['inputs'].shape == (4, 3, 64, 32)
    bad = samples()
    del bad[2].modality
    with pytest.raises(KeyError, match="no 'modality'"):
        model.data_preprocessor(
            dict(inputs=[torch.zeros(3, 8, 4)] * 4, data_samples=bad))
    bad = samples()
    bad[1].set_metainfo(dict(modality=2, img_path='cam3/0001/0002.jpg'))
    with pytest.raises(ValueError,
                       match=r"of 'cam3/0001/0002.jpg': modality must be "
                       r'RGB \(0 or .*got 2'):
        model.data_preprocessor(
            dict(inputs=[torch.zeros(3, 8, 4)] * 4, data_samples=bad))


def test_loss_mode_returns_named_losses():
    model = build_model()
    losses = model(**preprocessed(model), mode='loss')
    assert {'loss_id', 'loss_triplet'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.backbone.streams[0].conv1.weight.grad is not None
    assert model.backbone.streams[1].conv1.weight.grad is not None


def test_two_stream_model_needs_the_modality():
    model = build_model()
    with pytest.raises(ValueError, match='routes images by modality'):
        model(torch.randn(4, 3, 64, 32), samples(), mode='tensor')
    with pytest.raises(ValueError, match=r'modality must have shape \(4,\)'):
        model(torch.randn(4, 3, 64, 32), mode='tensor',
              modality=torch.zeros(3, dtype=torch.long))


def test_predict_is_flip_averaged_and_normalised():
    model = build_model()
    model.eval()
    data = preprocessed(model)
    x, modality = data['inputs'], data['modality']
    with torch.no_grad():
        out = model(**data, mode='predict')
        feats = torch.stack([s.feature for s in out])
        # independent: tensor mode -> BN-neck, on the image and its flip
        plain = model.head.bnneck(model(x, modality=modality)[-1])
        flipped = model.head.bnneck(model(x.flip(3), modality=modality)[-1])
    torch.testing.assert_close(feats, F.normalize(plain + flipped, dim=1))
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(4))


def test_modality_routes_each_image_to_its_stream():
    """Swapping one image's modality changes its feature and only its."""
    model = build_model()
    model.eval()
    with torch.no_grad():  # both streams start equal: make them differ
        model.backbone.streams[IR].conv1.weight.mul_(-1)
    data = preprocessed(model)
    swapped = data['modality'].clone()
    swapped[0] = IR
    with torch.no_grad():
        feats = model(data['inputs'], modality=data['modality'])[-1]
        other = model(data['inputs'], modality=swapped)[-1]
    assert not torch.allclose(feats[0], other[0])
    torch.testing.assert_close(feats[1:], other[1:])


def test_one_stream_mmpretrain_backbone():
    model = build_model(
        dict(type='ResNet', depth=18, strides=(1, 2, 2, 1)))
    losses = model(**preprocessed(model), mode='loss')
    assert torch.isfinite(losses['loss_id'])
    # a one-stream model runs without any modality
    feats = model(torch.randn(2, 3, 64, 32))
    assert feats[-1].shape == (2, 512)


TINY_VIT = dict(
    type='VisionTransformer',
    arch=dict(
        embed_dims=48, num_layers=2, num_heads=2, feedforward_channels=64),
    img_size=(64, 32),
    patch_size=16,
    out_type='cls_token')


@pytest.mark.parametrize('backbone, neck, dim', [
    (TINY_VIT, None, 48),
    (dict(type='TwoStreamBackbone', backbone=TINY_VIT), None, 48),
    (dict(
        type='ConvNeXt',
        arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 24, 40]),
        gap_before_final_norm=False), dict(type='GlobalAveragePooling'), 40),
    (dict(type='ResNet', depth=18, base_channels=8),
     dict(type='GeneralizedMeanPooling'), 64),
])
def test_head_in_channels_is_inferred(backbone, neck, dim):
    """Left out (or None), head.in_channels is the dimension of the
    features; the probe changes no statistic and leaves train mode."""
    for head in (dict(type='BNNeckHead', num_classes=2),
                 dict(type='SPCLHead', in_channels=None)):
        model = MODELS.build(
            dict(type='VIReID', backbone=backbone, neck=neck, head=head))
        assert model.head.in_channels == dim
        assert model.head.bnneck.num_features == dim
        assert all(m.training for m in model.modules())
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._NormBase):
                assert m.num_batches_tracked == 0
                assert m.running_mean.abs().max() == 0
    model.init_weights()
    model.eval()
    with torch.no_grad():
        feats = model.retrieval_feat(torch.randn(2, 3, 64, 32),
                                     torch.tensor([RGB, IR]))
    assert feats.shape == (2, dim)


def test_head_in_channels_given_is_kept_a_failed_probe_says_so():
    model = build_model()  # in_channels=512: ResNet-18's
    assert model.head.in_channels == 512
    with pytest.raises(ValueError,
                       match=r'VIReID: head.in_channels is not set and could '
                       r'not be read off the features of a 128x64 image '
                       r'\(AssertionError: .*window size.*\); set '
                       'head.in_channels'):
        MODELS.build(
            dict(
                type='VIReID',
                backbone=dict(
                    type='SwinTransformer',
                    arch=dict(
                        embed_dims=16,
                        depths=[1, 1, 1, 1],
                        num_heads=[1, 1, 1, 1]),
                    img_size=(128, 64),
                    window_size=7,
                    pad_small_map=False),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='BNNeckHead', num_classes=2)))


def test_eager_and_exported_routing_give_the_same_features():
    """Eval mode: the sub-batches of eager inference and the whole-batch
    routing of a captured graph give every image the same feature (an
    MCLNet-like model: specific stem, layer1, layer2 and projections)."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='VIReID',
            backbone=dict(
                type='TwoStreamResNet',
                num_specific_stages=2,
                backbone=dict(
                    type='ResNet',
                    depth=18,
                    base_channels=16,
                    strides=(1, 2, 2, 1),
                    out_indices=(0, 1, 2, 3))),
            neck=dict(
                type='DeepSupervisionNeck',
                in_channels=(16, 32, 64, 128),
                out_channels=128),
            head=dict(type='BNNeckHead', num_classes=2)))
    model.init_weights()
    randomise_bn(model)
    with torch.no_grad():  # streams and projections that differ
        model.backbone.streams[IR].conv1.weight.mul_(-1)
        for p in model.neck.projections[0][IR].parameters():
            p.mul_(1.5)
    model.eval()
    data = preprocessed(model, n=6)
    batch_sizes = []
    model.backbone.streams[IR].conv1.register_forward_hook(
        lambda module, args, out: batch_sizes.append(len(out)))
    with torch.no_grad():
        eager = model(**data, mode='predict')
        with routing_mode(sub_batches=False):
            exported = model(**data, mode='predict')
    # 3 IR images, image and flip; then the whole batch
    assert batch_sizes == [3, 3, 6, 6]
    for a, b in zip(eager, exported):
        torch.testing.assert_close(a.feature, b.feature)


def randomise_bn(model):
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._NormBase):
            m.running_mean.copy_(
                torch.randn(m.num_features, generator=gen) * .1)
            m.running_var.uniform_(.75, 1.25, generator=gen)
