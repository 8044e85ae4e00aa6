import copy

import pytest
import torch
import torch.nn.functional as F

from mmvireid.models.necks import DeepSupervisionNeck, SeparableConvProjection
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

# Tiny widths: 4 -> 32 (3 blocks), 8 -> 32 (2 blocks), 16 -> 32 (1 block).
CHANNELS = (4, 8, 16, 32)
SIZES = ((16, 8), (8, 4), (4, 2), (4, 2))  # last stride 1: layer3 = layer4


def make_neck(**kwargs):
    cfg = dict(type='DeepSupervisionNeck', in_channels=CHANNELS,
               out_channels=32)
    cfg.update(kwargs)
    torch.manual_seed(0)
    neck = MODELS.build(cfg)
    neck.init_weights()
    return neck


def stage_maps(num):
    torch.manual_seed(1)
    return tuple(
        torch.randn(num, c, h, w) for c, (h, w) in zip(CHANNELS, SIZES))


def gem3(x):
    """GeM with p = 3, written out: (mean over H, W of clamp(x)^3)^(1/3)."""
    return x.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3)


def test_structure_specific_and_shared_projections():
    neck = make_neck()
    assert neck.takes_modality
    assert len(neck.projections) == 3
    for s in (0, 1):  # layer1, layer2: one head per modality
        heads = neck.projections[s]
        assert len(heads) == 2
        assert all(isinstance(h, SeparableConvProjection) for h in heads)
        assert heads[RGB] is not heads[IR]
    assert isinstance(neck.projections[2], SeparableConvProjection)
    assert [neck.projections[0][0].num_blocks,
            neck.projections[1][0].num_blocks,
            neck.projections[2].num_blocks] == [3, 2, 1]


def test_routing_matches_per_sample_computation():
    """Eval mode: every sample alone through the head of its own modality
    (BN uses running statistics, so a sample's output does not depend on
    its batch)."""
    neck = make_neck(eval_all_stages=True)
    # non-trivial running statistics, so a wrong head gives other numbers
    for module in neck.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    neck.eval()
    modality = torch.tensor([IR, RGB, RGB, IR, RGB, IR])
    maps = stage_maps(6)
    with torch.no_grad():
        feats = neck(maps, modality)
        assert len(feats) == 4
        for i, m in enumerate(modality.tolist()):
            one = [x[i:i + 1] for x in maps]
            expected = [
                gem3(neck.projections[0][m](one[0])),
                gem3(neck.projections[1][m](one[1])),
                gem3(neck.projections[2](one[2])),
                gem3(one[3]),
            ]
            for s in range(4):
                torch.testing.assert_close(feats[s][i:i + 1], expected[s],
                                           atol=1e-5, rtol=1e-5)
        # the other modality's head gives different numbers
        wrong = gem3(neck.projections[0][RGB](maps[0][:1]))
        assert not torch.allclose(feats[0][:1], wrong, atol=1e-3)


def test_inference_gradients_match_the_per_sample_computation():
    neck = make_neck(eval_all_stages=True)
    for module in neck.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    ref = copy.deepcopy(neck)
    neck.eval()
    ref.eval()
    modality = torch.tensor([IR, RGB, RGB, IR])
    maps = stage_maps(4)
    sum(f.square().sum() for f in neck(maps, modality)).backward()
    sum(
        gem3(ref.projections[s][m](maps[s][i:i + 1])).square().sum()
        for i, m in enumerate(modality.tolist()) for s in (0, 1)).backward()
    for s in (0, 1):
        got = dict(neck.projections[s].named_parameters())
        for name, param in ref.projections[s].named_parameters():
            # batch of 4 vs 4 batches of 1: sums in another order
            torch.testing.assert_close(
                got[name].grad,
                param.grad,
                rtol=1e-4,
                atol=1e-5 * param.grad.abs().max().item(),
                msg=name)


def test_routing_in_train_mode_uses_modality_batches():
    """Train mode: BN statistics of a modality-specific head come from the
    samples of that modality only."""
    neck = make_neck()
    neck.train()
    modality = torch.tensor([RGB, IR, IR, RGB, IR, RGB, RGB])
    maps = stage_maps(7)
    feats = neck(maps, modality)
    for m in (RGB, IR):
        rows = (modality == m).nonzero().flatten()
        for s in (0, 1):
            expected = gem3(neck.projections[s][m](maps[s][rows]))
            torch.testing.assert_close(feats[s][rows], expected)
    torch.testing.assert_close(feats[2], gem3(neck.projections[2](maps[2])))
    torch.testing.assert_close(feats[3], gem3(maps[3]))


def test_gradients_reach_only_the_own_modality_head():
    neck = make_neck()
    modality = torch.tensor([RGB, RGB, IR, IR])
    feats = neck(stage_maps(4), modality)
    # a loss on the RGB rows only
    sum(f[:2].sum() for f in feats).backward()
    for s in (0, 1):
        rgb_grads = [p.grad for p in neck.projections[s][RGB].parameters()]
        ir_grads = [p.grad for p in neck.projections[s][IR].parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in rgb_grads)
        assert all(g is None or g.abs().sum() == 0 for g in ir_grads)


def test_single_modality_batch():
    neck = make_neck(eval_all_stages=True)
    neck.eval()
    maps = stage_maps(3)
    with torch.no_grad():
        feats = neck(maps, torch.full((3, ), IR))
        torch.testing.assert_close(feats[1],
                                   gem3(neck.projections[1][IR](maps[1])))
    assert all(f.shape == (3, 32) for f in feats)


def test_average_pooling_option():
    neck = make_neck(pooling=dict(type='GlobalAveragePooling'),
                     eval_all_stages=True)
    neck.eval()
    maps = stage_maps(2)
    with torch.no_grad():
        feats = neck(maps, torch.tensor([RGB, IR]))
        torch.testing.assert_close(feats[3], maps[3].mean(dim=(2, 3)))
        torch.testing.assert_close(
            feats[2],
            neck.projections[2](maps[2]).mean(dim=(2, 3)))


def test_num_specific_projections_zero_shares_every_head():
    neck = make_neck(num_specific_projections=0)
    assert all(isinstance(p, SeparableConvProjection)
               for p in neck.projections)


@pytest.mark.parametrize(
    'depth, channels, out_channels',
    [(18, (64, 128, 256, 512), 512), (50, (256, 512, 1024, 2048), 2048)])
def test_shapes_on_two_stream_resnet(depth, channels, out_channels):
    """ResNet-18 and ResNet-50 widths (MCLNet split, last stride 1) at
    288x144: layer4's map is 18x9, the auxiliary maps are 9x5 (every
    separable block at stride 2, as the released code); features are
    (N, D)."""
    backbone = MODELS.build(
        dict(
            type='TwoStreamResNet',
            num_specific_stages=2,
            backbone=dict(
                type='ResNet',
                depth=depth,
                strides=(1, 2, 2, 1),
                out_indices=(0, 1, 2, 3))))
    neck = MODELS.build(
        dict(
            type='DeepSupervisionNeck',
            in_channels=channels,
            out_channels=out_channels,
            eval_all_stages=True))
    backbone.eval()
    neck.eval()
    modality = torch.tensor([RGB, IR])
    with torch.no_grad():
        maps = backbone(torch.randn(2, 3, 288, 144), modality)
        assert maps[3].shape == (2, out_channels, 18, 9)
        auxiliary = (2, out_channels, 9, 5)
        assert neck.projections[0][RGB](maps[0]).shape == auxiliary
        assert neck.projections[1][IR](maps[1]).shape == auxiliary
        assert neck.projections[2](maps[2]).shape == auxiliary
        feats = neck(maps, modality)
    assert [tuple(f.shape) for f in feats] == [(2, out_channels)] * 4
    torch.testing.assert_close(feats[3], gem3(maps[3]))


def test_eval_mode_pools_the_last_stage_only():
    """The projections are training-only auxiliary heads: in eval mode they
    are not called and the output is (f_S,), equal to the f_S of the full
    computation."""
    neck = make_neck()
    for module in neck.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
    neck.eval()
    calls = []
    for projection in neck.projections.modules():
        if isinstance(projection, SeparableConvProjection):
            projection.register_forward_hook(
                lambda *args: calls.append(args[0]))
    modality = torch.tensor([IR, RGB, RGB])
    maps = stage_maps(3)
    with torch.no_grad():
        feats = neck(maps, modality)
        assert calls == []
        neck.eval_all_stages = True
        every = neck(maps, modality)
        assert len(calls) == 5  # 2 + 2 modality-specific, 1 shared
    assert len(feats) == 1 and len(every) == 4
    assert torch.equal(feats[0], every[3])
    torch.testing.assert_close(feats[0], gem3(maps[3]))
    neck.train()
    assert len(neck(maps, modality)) == 4


def test_bad_config():
    with pytest.raises(ValueError, match='out_channels'):
        DeepSupervisionNeck(in_channels=(4, 8, 16, 32), out_channels=64)
    with pytest.raises(ValueError, match='num_specific_projections'):
        DeepSupervisionNeck(in_channels=(4, 8, 16, 32), out_channels=32,
                            num_specific_projections=4)


def test_bad_inputs():
    neck = make_neck()
    maps = stage_maps(2)
    with pytest.raises(ValueError, match='expected 4 stage maps'):
        neck(maps[1:], torch.tensor([RGB, IR]))
    with pytest.raises(ValueError, match='channels'):
        neck(maps[:3] + (F.pad(maps[3], (0, 0, 0, 0, 0, 1)), ),
             torch.tensor([RGB, IR]))
    with pytest.raises(ValueError, match=r'shape \(2,\)'):
        neck(maps, torch.tensor([RGB, IR, IR]))
    neck.eval_all_stages = True
    for training in (True, False):
        neck.train(training)
        with pytest.raises(ValueError, match='RGB \\(0\\) or IR \\(1\\)'):
            neck(maps, torch.tensor([RGB, 2]))
