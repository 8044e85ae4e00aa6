import pytest
import torch
from mmpretrain.models.backbones import EfficientNet, EfficientNetV2

from mmvireid.models.utils import ModalitySpecific
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB


@MODELS.register_module(force=True)
class TinyEfficientNet(EfficientNet):
    """EfficientNet at a quarter of b0's width, one block a stage (b0, the
    smallest arch mmpretrain offers, has 4M parameters)."""
    arch_settings = {'b-tiny': (0.25, 0.25, 64)}


@MODELS.register_module(force=True)
class TinyEfficientNetV2(EfficientNetV2):
    """EfficientNetV2 with a stem, three one-block stages (fused, plain
    MBConv with SE) and the last convolution, 8-64 channels."""
    arch_settings = {
        'tiny': [[1, 3, 1, 1, 8, 8, 0.0, -1], [1, 3, 2, 4, 8, 16, 0.0, 0],
                 [1, 3, 2, 4, 16, 24, 0.25, 1], [1, 1, 1, 1, 24, 64, 0.0, -2]]
    }


TINY_VIT = dict(
    type='VisionTransformer',
    arch=dict(
        embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64),
    img_size=(64, 32),
    patch_size=16,
    out_type='cls_token')
TINY_RESNET = dict(
    type='ResNet', depth=18, base_channels=8, strides=(1, 2, 2, 1))
SWIN_ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])
#: Tiny archs / widths of every family the wrapper splits (64x32 inputs).
BACKBONES = {
    'ResNet':
    TINY_RESNET,
    'RegNet':
    dict(
        type='RegNet',
        arch=dict(w0=8, wa=13, wm=2, group_w=8, depth=4, bot_mul=1.0),
        stem_channels=8),
    'ViT':
    TINY_VIT,
    'CLIP ViT':
    dict(TINY_VIT, pre_norm=True),
    'Swin':
    dict(
        type='SwinTransformer',
        arch=SWIN_ARCH,
        img_size=(64, 32),
        window_size=2,
        pad_small_map=True,
        out_indices=(2, 3)),
    'SwinV2':
    dict(
        type='SwinTransformerV2',
        arch=dict(SWIN_ARCH, extra_norm_every_n_blocks=0),
        img_size=(64, 32),
        window_size=[2, 2, 2, 2],
        pad_small_map=True,
        out_indices=(3, )),
    'ConvNeXt':
    dict(
        type='ConvNeXt',
        arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 24, 32]),
        out_indices=(1, 3),
        gap_before_final_norm=False),
    'EfficientNet':
    dict(type='TinyEfficientNet', arch='b-tiny', out_indices=(2, 6)),
    'EfficientNetV2':
    dict(type='TinyEfficientNetV2', arch='tiny', out_indices=(1, 4)),
    'MobileNetV2':
    dict(type='MobileNetV2', widen_factor=0.25, out_indices=(1, 7)),
    'MobileNetV3':
    dict(type='MobileNetV3', arch='small', out_indices=(2, 12)),
    'HRNet':
    dict(
        type='HRNet',
        extra=dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block='BOTTLENECK',
                num_blocks=(1, ),
                num_channels=(8, )),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block='BASIC',
                num_blocks=(1, 1),
                num_channels=(4, 8)),
            stage3=dict(
                num_modules=1,
                num_branches=3,
                block='BASIC',
                num_blocks=(1, 1, 1),
                num_channels=(4, 8, 16)),
            stage4=dict(
                num_modules=1,
                num_branches=4,
                block='BASIC',
                num_blocks=(1, 1, 1, 1),
                num_channels=(4, 8, 16, 32)))),
}
MIX = torch.tensor([RGB, IR, IR, RGB, IR])
REBUILT_BUFFERS = ('relative_position_index', 'relative_coords_table')


def two_stream(backbone, num_specific_stages=1, **kwargs):
    return MODELS.build(
        dict(
            type='TwoStreamBackbone',
            backbone=backbone,
            num_specific_stages=num_specific_stages,
            **kwargs))


def randomise_norms(module, seed):
    """Non-trivial affine parameters and BN statistics, so that a sample
    routed through the wrong copy would show."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._NormBase):
            m.running_mean.copy_(
                torch.randn(m.num_features, generator=gen) * .1)
            m.running_var.copy_(
                torch.rand(m.num_features, generator=gen) * .5 + .75)


def one_stream_state(two, modality):
    """The one-stream state dict of ``two``'s copies of ``modality``,
    written as a string rule on the parameter names: drop the
    ``.streams.<modality>`` segment, skip the other streams."""
    state = {}
    for key, value in two.backbone.state_dict().items():
        if '.streams.' not in key:
            state[key] = value
        elif f'.streams.{modality}.' in key:
            state[key.replace(f'.streams.{modality}', '')] = value
    return state


@pytest.mark.parametrize('name', list(BACKBONES))
def test_two_stream_is_one_stream_per_modality(name, tmp_path):
    """A checkpoint of the one-stream backbone loads into both streams and
    the shared modules; after the IR copies change, every RGB image gets
    the one-stream backbone's output with the RGB weights, every IR image
    that of the one-stream backbone with the IR weights."""
    cfg = BACKBONES[name]
    torch.manual_seed(0)
    one = MODELS.build(cfg)
    one.init_weights()
    randomise_norms(one, seed=1)
    path = tmp_path / 'one_stream.pth'
    torch.save(one.state_dict(), path)
    two = two_stream(
        dict(cfg, init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    two.init_weights()
    one.eval()
    two.eval()
    x = torch.randn(5, 3, 64, 32)
    with torch.no_grad():
        want = one(x)
        for got, ref in zip(two(x, MIX), want):
            torch.testing.assert_close(got, ref)

        # the IR copies become another function
        specific = [
            m for m in two.modules() if isinstance(m, ModalitySpecific)
        ]
        assert specific
        for module in specific:
            for p in module.streams[IR].parameters():
                p.add_(torch.randn_like(p) * .2)
        one_ir = MODELS.build(cfg)
        missing, unexpected = one_ir.load_state_dict(
            one_stream_state(two, IR), strict=False)
        # SwinV2 drops the window index buffers it rebuilds when it loads
        assert not unexpected and all(
            k.endswith(REBUILT_BUFFERS) for k in missing), missing
        one_ir.eval()
        got = two(x, MIX)
        want_ir = one_ir(x[MIX == IR])
        for out, rgb, ir in zip(got, want, want_ir):
            torch.testing.assert_close(out[MIX == RGB], rgb[MIX == RGB])
            torch.testing.assert_close(out[MIX == IR], ir)
        # the first output shows the change (later ones may hide it behind
        # the randomised BN statistics)
        assert not torch.allclose(want_ir[0], want[0][MIX == IR], atol=1e-3)


def test_parameters_of_the_specific_modules_are_copied_once():
    one = MODELS.build(TINY_VIT)
    count = sum(p.numel() for p in one.parameters())
    specific = [one.patch_embed, one.layers[0], one.layers[1]]
    extra = sum(p.numel() for m in specific for p in m.parameters())
    two = two_stream(TINY_VIT, num_specific_stages=2)
    assert sum(p.numel() for p in two.parameters()) == count + extra
    assert two.specific_modules == ['patch_embed', 'layers.0', 'layers.1']
    names = set(dict(two.named_parameters()))
    assert 'backbone.patch_embed.streams.1.projection.weight' in names
    assert 'backbone.layers.1.streams.0.ffn.layers.1.weight' in names
    assert 'backbone.layers.2.ffn.layers.1.weight' in names
    assert 'backbone.pos_embed' in names and 'backbone.cls_token' in names


def test_swin_and_convnext_split_stage_parts():
    swin = two_stream(BACKBONES['Swin'], num_specific_stages=1)
    assert swin.specific_modules == [
        'patch_embed', 'stages.0.blocks.0', 'stages.0.downsample'
    ]
    swin = two_stream(BACKBONES['Swin'], num_specific_stages=3)
    # norm2 is the output norm of the specific stage 2 (out_indices 2, 3)
    assert 'norm2' in swin.specific_modules
    assert 'norm3' not in swin.specific_modules
    convnext = two_stream(BACKBONES['ConvNeXt'], num_specific_stages=2)
    # out_indices (1, 3): stage 1 has an output norm, stage 0 none
    assert convnext.specific_modules == [
        'downsample_layers.0', 'stages.0', 'downsample_layers.1', 'stages.1',
        'norm1'
    ]


def test_position_embedding_is_interpolated_as_one_stream(tmp_path):
    """A ViT checkpoint of another grid (32x32 input: 2x2 patches) with an
    mmpretrain classifier's ``backbone.`` prefix: the two-stream backbone
    loads it as mmpretrain's own ``Pretrained`` init loads it into the
    one-stream ViT (position embedding resized to the 4x2 grid)."""
    torch.manual_seed(0)
    source = MODELS.build(dict(TINY_VIT, img_size=(32, 32)))
    source.init_weights()
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['head.fc.weight'] = torch.randn(10, 32)
    path = tmp_path / 'classifier.pth'
    torch.save(dict(state_dict=state), path)
    pretrained = dict(
        type='Pretrained', checkpoint=str(path), prefix='backbone')
    one = MODELS.build(dict(TINY_VIT, init_cfg=pretrained))
    one.init_weights()
    two = two_stream(dict(TINY_VIT, init_cfg=pretrained))
    two.init_weights()
    assert one.pos_embed.shape == two.backbone.pos_embed.shape == (1, 9, 32)
    torch.testing.assert_close(two.backbone.pos_embed, one.pos_embed)
    assert not torch.allclose(one.pos_embed[:, 1:5],
                              source.pos_embed[:, 1:5])
    one.eval()
    two.eval()
    x = torch.randn(4, 3, 64, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            two(x, torch.tensor([RGB, IR, IR, RGB]))[0],
            one(x)[0])


def renamed(key):
    """A TwoStreamResNet name as TwoStreamBackbone's backbone names it:
    ``streams.<m>.<module>.<rest>`` -> ``<module>.streams.<m>.<rest>``,
    ``shared.<rest>`` -> ``<rest>``."""
    part, rest = key.split('.', 1)
    if part == 'shared':
        return rest
    modality, module, tail = rest.split('.', 2)
    return f'{module}.streams.{modality}.{tail}'


@pytest.mark.parametrize('num_specific_stages', [0, 2])
def test_training_equals_two_stream_resnet(num_specific_stages):
    """Train mode on a mixed batch: outputs, gradients and BatchNorm
    statistics as those of TwoStreamResNet (whose streams are whole
    backbone copies), so each copy's BN sees its modality only."""
    torch.manual_seed(0)
    ref = MODELS.build(
        dict(
            type='TwoStreamResNet',
            backbone=TINY_RESNET,
            num_specific_stages=num_specific_stages))
    ref.init_weights()
    with torch.no_grad():
        ref.streams[IR].conv1.weight.mul_(-1)
    two = two_stream(TINY_RESNET, num_specific_stages=num_specific_stages)
    two.backbone.load_state_dict(
        {renamed(k): v
         for k, v in ref.state_dict().items()})
    ref.train()
    two.train()
    x = torch.randn(6, 3, 64, 32)
    modality = torch.tensor([IR, RGB, RGB, IR, IR, RGB])
    out, want = two(x, modality)[0], ref(x, modality)[0]
    torch.testing.assert_close(out, want)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (want * weights).sum().backward()
    got = dict(two.backbone.named_parameters())
    for key, param in ref.named_parameters():
        torch.testing.assert_close(got[renamed(key)].grad, param.grad,
                                   msg=key)
    got = two.backbone.state_dict()
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(got[renamed(key)], value, msg=key)


def test_streams_start_identical_without_a_checkpoint():
    torch.manual_seed(0)
    two = two_stream(TINY_VIT)
    two.init_weights()
    for module in (two.backbone.patch_embed, two.backbone.layers[0]):
        rgb, ir = (s.state_dict() for s in module.streams)
        assert all(torch.equal(rgb[k], ir[k]) for k in rgb)
    torch.manual_seed(0)
    apart = two_stream(TINY_VIT, identical_streams=False)
    apart.init_weights()
    streams = apart.backbone.layers[0].streams
    assert not torch.equal(streams[RGB].ffn.layers[1].weight,
                           streams[IR].ffn.layers[1].weight)


def test_refuses_what_it_cannot_split():
    with pytest.raises(TypeError,
                       match='TwoStreamBackbone cannot split LeNet5: it is '
                       'not a subclass of a backbone whose stem and stages '
                       r'it knows \(ResNet, VisionTransformer'):
        two_stream(dict(type='LeNet5'), num_specific_stages=0)
    with pytest.raises(ValueError,
                       match=r'must be in \[0, 1\] for HRNet with a stem and '
                       '1 stages; its stages 2-4 take lists of branch maps, '
                       'which cannot be routed, got 2'):
        two_stream(BACKBONES['HRNet'], num_specific_stages=2)
    with pytest.raises(ValueError,
                       match=r'must be in \[0, 3\] for ResNet with a stem '
                       r'and 4 stages \(at least one stage stays shared\), '
                       'got 4'):
        two_stream(TINY_RESNET, num_specific_stages=4)


def test_specific_module_outside_the_wrapper():
    two = two_stream(TINY_VIT)
    embed = two.backbone.patch_embed
    # plain attributes read through, modules and tensors do not
    assert embed.init_out_size == (4, 2)
    with pytest.raises(AttributeError,
                       match="'projection' of PatchEmbed is "
                       r'modality-specific \(one per stream: rgb, ir\)'):
        embed.projection
    with pytest.raises(RuntimeError,
                       match=r'ModalitySpecific\(PatchEmbed\) was called '
                       'without a modality'):
        two.backbone(torch.randn(2, 3, 64, 32))
    # the wrapper hands the modality over for its own call only
    two(torch.randn(2, 3, 64, 32), torch.tensor([RGB, IR]))
    assert embed.modality is None


@pytest.mark.skipif(
    not hasattr(torch.export, 'Dim'), reason='torch.export.Dim: torch>=2.2')
def test_exports_one_graph_for_every_mix():
    torch.manual_seed(0)
    two = two_stream(TINY_VIT)
    two.init_weights()
    for p in two.backbone.patch_embed.streams[IR].parameters():
        p.data.mul_(-1)
    two.eval()
    n = torch.export.Dim('n', min=1)
    exported = torch.export.export(
        two, (torch.randn(4, 3, 64, 32), torch.tensor([RGB, IR, IR, RGB])),
        dynamic_shapes=({
            0: n
        }, {
            0: n
        })).module()
    for mix in ([IR, IR, IR], [RGB, IR], [RGB]):
        x = torch.randn(len(mix), 3, 64, 32)
        with torch.no_grad():
            torch.testing.assert_close(
                exported(x, torch.tensor(mix))[0],
                two(x, torch.tensor(mix))[0])
