import copy

import pytest
import torch
import torchvision

from mmvireid.registry import MODELS


def build(num_specific_stages=0, **backbone):
    cfg = dict(type='ResNet', depth=18, strides=(1, 2, 2, 1))
    cfg.update(backbone)
    return MODELS.build(
        dict(
            type='TwoStreamResNet',
            num_specific_stages=num_specific_stages,
            backbone=cfg))


def randomise_bn(module, seed=0):
    """Give BN layers non-trivial running stats so routing errors show."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + .5)


@pytest.mark.parametrize('num_specific_stages', [0, 2])
def test_each_sample_goes_through_its_own_stream(num_specific_stages):
    torch.manual_seed(0)
    net = build(num_specific_stages)
    net.init_weights()
    randomise_bn(net)
    net.eval()
    x = torch.randn(6, 3, 64, 32)
    modality = torch.tensor([0, 1, 1, 0, 1, 0])
    with torch.no_grad():
        out = net(x, modality)[-1]
        # independent computation: a plain mmpretrain ResNet made of the
        # stream's first stages and the shared last stages.
        for i in range(6):
            stream = net.streams[int(modality[i])]
            torch.testing.assert_close(
                out[i:i + 1],
                specific_then_shared(net, x[i:i + 1], stream,
                                     num_specific_stages))


@pytest.mark.parametrize('num_specific_stages', [0, 2])
def test_streams_start_identical_without_a_checkpoint(num_specific_stages):
    torch.manual_seed(0)
    net = build(num_specific_stages)
    net.init_weights()
    rgb, ir = net.streams[0].state_dict(), net.streams[1].state_dict()
    assert set(rgb) == set(ir) and len(rgb) > 0
    assert all(torch.equal(rgb[k], ir[k]) for k in rgb)
    # so an RGB and an IR copy of one image get the same feature
    x = torch.randn(1, 3, 64, 32).repeat(2, 1, 1, 1)
    net.eval()
    with torch.no_grad():
        out = net(x, torch.tensor([0, 1]))[-1]
    torch.testing.assert_close(out[0], out[1])
    # and they are still two modules that train apart
    net.streams[1].conv1.weight.data.add_(1.0)
    assert not torch.equal(net.streams[0].conv1.weight,
                           net.streams[1].conv1.weight)

    torch.manual_seed(0)
    independent = MODELS.build(
        dict(type='TwoStreamResNet',
             num_specific_stages=num_specific_stages,
             identical_streams=False,
             backbone=dict(type='ResNet', depth=18, strides=(1, 2, 2, 1))))
    independent.init_weights()
    assert not torch.equal(independent.streams[0].conv1.weight,
                           independent.streams[1].conv1.weight)


def test_streams_are_distinct_modules():
    net = build(0)
    net.init_weights()
    net.eval()
    x = torch.randn(4, 3, 64, 32)
    modality = torch.tensor([0, 0, 1, 1])
    with torch.no_grad():
        before = net(x, modality)[-1].clone()
        net.streams[1].conv1.weight.mul_(-1)
        after = net(x, modality)[-1]
    torch.testing.assert_close(before[:2], after[:2])
    assert not torch.allclose(before[2:], after[2:])


def test_output_shapes_and_out_indices():
    net = build(2, out_indices=(0, 1, 2, 3))
    outs = net(torch.randn(4, 3, 64, 32), torch.tensor([0, 1, 0, 1]))
    # last stride 1: 64x32 -> layer1 16x8, layer2 8x4, layer3 4x2, layer4 4x2
    assert [tuple(o.shape) for o in outs] == [(4, 64, 16, 8), (4, 128, 8, 4),
                                              (4, 256, 4, 2), (4, 512, 4, 2)]


def test_single_modality_batch():
    net = build(0)
    net.eval()
    out = net(torch.randn(3, 3, 64, 32), torch.ones(3, dtype=torch.long))
    assert out[-1].shape == (3, 512, 4, 2)


def test_parameters_are_not_duplicated():
    plain = MODELS.build(dict(type='ResNet', depth=18))
    n_plain = sum(p.numel() for p in plain.parameters())
    n_stem = sum(
        p.numel()
        for p in [plain.conv1.weight, plain.bn1.weight, plain.bn1.bias])
    n_layer12 = sum(p.numel() for m in [plain.layer1, plain.layer2]
                    for p in m.parameters())
    n0 = sum(p.numel() for p in build(0).parameters())
    n2 = sum(p.numel() for p in build(2).parameters())
    assert n0 == n_plain + n_stem
    assert n2 == n_plain + n_stem + n_layer12


def test_one_checkpoint_initialises_every_copy(tmp_path):
    # a torchvision-format state dict, as torchvision://resnet18 would give
    torch.manual_seed(1)
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / 'resnet18_torchvision.pth'
    torch.save(state, path)
    net = build(
        1, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    net.init_weights()
    for stream in net.streams:
        torch.testing.assert_close(stream.conv1.weight, state['conv1.weight'])
        torch.testing.assert_close(stream.bn1.running_var,
                                   state['bn1.running_var'])
        torch.testing.assert_close(stream.layer1[0].conv1.weight,
                                   state['layer1.0.conv1.weight'])
    torch.testing.assert_close(net.shared.layer4[1].conv2.weight,
                               state['layer4.1.conv2.weight'])
    torch.testing.assert_close(net.shared.layer2[0].downsample[0].weight,
                               state['layer2.0.downsample.0.weight'])
    # the shared part has no stem and no layer1: nothing to load there
    assert 'conv1.weight' not in net.shared.state_dict()
    assert 'layer1.0.conv1.weight' not in net.shared.state_dict()


def test_deep_stem_backbone_routes():
    net = MODELS.build(
        dict(
            type='TwoStreamResNet',
            backbone=dict(type='ResNetV1d', depth=18, strides=(1, 2, 2, 1))))
    out = net(torch.randn(4, 3, 64, 32), torch.tensor([0, 1, 0, 1]))
    assert out[-1].shape == (4, 512, 4, 2)
    assert 'stem.0.conv.weight' in net.streams[0].state_dict()
    assert not any(k.startswith('stem') for k in net.shared.state_dict())


def specific_then_shared(net, x, stream, num_specific_stages):
    """The map of layer4 written out: the stream's stem and first stages,
    then the shared stages."""
    h = stream.maxpool(stream.relu(stream.bn1(stream.conv1(x))))
    for s, name in enumerate(stream.res_layers):
        part = stream if s < num_specific_stages else net.shared
        h = getattr(part, name)(h)
    return h


@pytest.mark.parametrize('num_specific_stages', [0, 2])
def test_training_batch_norm_sees_one_modality_per_stream(
        num_specific_stages):
    """Train mode: each stream's BatchNorm normalises with, and updates its
    statistics from, its modality's images only; the shared stages see the
    whole batch. Outputs, gradients and statistics as that computation
    written with boolean masks."""
    torch.manual_seed(0)
    net = build(num_specific_stages)
    net.init_weights()
    randomise_bn(net)
    with torch.no_grad():  # streams that differ
        net.streams[1].conv1.weight.mul_(-1)
    ref = copy.deepcopy(net)
    net.train()
    ref.train()
    x = torch.randn(6, 3, 64, 32)
    modality = torch.tensor([1, 0, 0, 1, 1, 0])
    out = net(x, modality)[-1]
    # reference: per-modality sub-batches through the specific part, put
    # back in batch order, then the shared part on the whole batch
    h = None
    for m, stream in enumerate(ref.streams):
        mask = modality == m
        part = stream.maxpool(stream.relu(stream.bn1(stream.conv1(x[mask]))))
        for name in stream.res_layers[:num_specific_stages]:
            part = getattr(stream, name)(part)
        if h is None:
            h = part.new_zeros((6, ) + part.shape[1:])
        h[mask] = part
    for name in ref.shared.res_layers[num_specific_stages:]:
        h = getattr(ref.shared, name)(h)
    torch.testing.assert_close(out, h)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (h * weights).sum().backward()
    got, want = dict(net.named_parameters()), dict(ref.named_parameters())
    for name, param in want.items():
        torch.testing.assert_close(got[name].grad, param.grad, msg=name)
    got, want = net.state_dict(), ref.state_dict()
    for name, value in want.items():
        torch.testing.assert_close(got[name], value, msg=name)


@pytest.mark.parametrize('num_specific_stages', [0, 2])
def test_inference_gradients_match_the_per_sample_computation(
        num_specific_stages):
    torch.manual_seed(0)
    net = build(num_specific_stages)
    net.init_weights()
    randomise_bn(net)
    with torch.no_grad():
        net.streams[1].conv1.weight.mul_(-1)
    ref = copy.deepcopy(net)
    net.eval()
    ref.eval()
    x = torch.randn(4, 3, 64, 32)
    modality = torch.tensor([0, 1, 1, 0])
    net(x, modality)[-1].square().sum().backward()
    sum(
        specific_then_shared(ref, x[i:i + 1], ref.streams[int(m)],
                             num_specific_stages).square().sum()
        for i, m in enumerate(modality)).backward()
    got = dict(net.named_parameters())
    for name, param in ref.named_parameters():
        # batch of 4 vs 4 batches of 1: sums in another order
        torch.testing.assert_close(got[name].grad,
                                   param.grad,
                                   rtol=1e-4,
                                   atol=1e-5 * param.grad.abs().max().item(),
                                   msg=name)


def test_training_batch_of_one_modality_leaves_the_other_stream_alone():
    net = build(2)
    net.train()
    net(torch.randn(4, 3, 64, 32), torch.zeros(4, dtype=torch.long))[-1]\
        .sum().backward()
    assert all(p.grad is not None for p in net.streams[0].parameters())
    # no zero gradient that momentum or weight decay would act on
    assert all(p.grad is None for p in net.streams[1].parameters())
    counts = [
        m.num_batches_tracked.item() for m in net.streams[1].modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert counts and set(counts) == {0}


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_specific_stages'):
        build(4)
    net = build(0)
    with pytest.raises(ValueError, match='modality must have shape'):
        net(torch.randn(2, 3, 64, 32), torch.tensor([0, 1, 0]))
    for training in (True, False):
        net.train(training)
        with pytest.raises(ValueError,
                           match=r'TwoStreamResNet: modality must be RGB '
                           r'\(0\) or IR \(1\), got values \[0, 1, 2\]'):
            net(torch.randn(3, 3, 64, 32), torch.tensor([0, 2, 1]))
