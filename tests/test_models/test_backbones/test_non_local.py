"""NonLocalBlock computes AGW's Non_local; TwoStreamResNet places it as
AGW's embed_net does."""
import copy
import math

import pytest
import torch
import torch.nn as nn
import torchvision

from mmvireid.models.backbones import NonLocalBlock
from mmvireid.registry import MODELS


class AGWNonLocal(nn.Module):
    """AGW's ``Non_local`` (``model.py`` L16-68) restated: 1x1 convs theta,
    phi, g (C -> inter, with bias), f = theta^T phi / N, y = f g, then
    W = conv (inter -> C, with bias) + BN, residual."""

    def __init__(self, channels, inter):
        super().__init__()
        self.inter = inter
        self.g = nn.Conv2d(channels, inter, 1)
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Conv2d(channels, inter, 1)
        self.W = nn.Sequential(nn.Conv2d(inter, channels, 1),
                               nn.BatchNorm2d(channels))

    def forward(self, x):
        n = x.size(0)
        g_x = self.g(x).view(n, self.inter, -1).permute(0, 2, 1)
        theta_x = self.theta(x).view(n, self.inter, -1).permute(0, 2, 1)
        phi_x = self.phi(x).view(n, self.inter, -1)
        f = theta_x @ phi_x
        y = (f / f.size(-1)) @ g_x
        y = y.permute(0, 2, 1).reshape(n, self.inter, *x.shape[2:])
        return self.W(y) + x


def copy_into_reference(block, reference):
    """Load a NonLocalBlock's weights into the restatement (the W conv's
    bias stays 0: with a BN after it, it changes nothing)."""
    with torch.no_grad():
        for name in ('g', 'theta', 'phi'):
            getattr(reference, name).weight.copy_(
                getattr(block, name).conv.weight)
            getattr(reference, name).bias.copy_(
                getattr(block, name).conv.bias)
        reference.W[0].weight.copy_(block.conv_out.conv.weight)
        reference.W[0].bias.zero_()
        reference.W[1].load_state_dict(block.conv_out.norm.state_dict())


def randomise(module, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=gen))
                m.bias.copy_(torch.randn(m.num_features, generator=gen))
                m.running_mean.copy_(
                    torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(
                    torch.rand(m.num_features, generator=gen) + .5)


@pytest.mark.parametrize('inter', [1, 4])
@pytest.mark.parametrize('training', [True, False])
def test_block_equals_agw_non_local(inter, training):
    torch.manual_seed(0)
    block = NonLocalBlock(16, inter_channels=inter)
    randomise(block, 1)
    reference = AGWNonLocal(16, inter)
    copy_into_reference(block, reference)
    block.train(training)
    reference.train(training)
    x = torch.randn(3, 16, 6, 5, dtype=torch.float64)
    block.double()
    reference.double()
    torch.testing.assert_close(block(x), reference(x))
    x = x.requires_grad_()
    grad = torch.autograd.grad(block(x).square().sum(), x)[0]
    expected = torch.autograd.grad(reference(x).square().sum(), x)[0]
    torch.testing.assert_close(grad, expected)


def test_starts_as_identity_with_pytorch_default_init():
    torch.manual_seed(0)
    block = NonLocalBlock(1024)
    block.init_weights()
    assert block.inter_channels == 1
    assert block.conv_out.conv.bias is None
    assert torch.equal(block.conv_out.norm.weight.detach(),
                       torch.zeros(1024))
    assert torch.equal(block.conv_out.norm.bias.detach(), torch.zeros(1024))
    x = torch.rand(2, 1024, 3, 2)
    torch.testing.assert_close(block(x), x)
    # PyTorch's default conv init (AGW's): weights and biases uniform in
    # +-1/sqrt(fan_in), not mmcv's N(0, 0.01^2) and zero bias
    bound = 1 / math.sqrt(1024)
    for name in ('g', 'theta', 'phi'):
        conv = getattr(block, name).conv
        for tensor in (conv.weight, conv.bias):
            assert tensor.abs().max().item() <= bound
        assert conv.weight.std().item() == pytest.approx(bound / math.sqrt(3),
                                                         rel=0.15)
        assert conv.bias.abs().item() > 0


def test_bad_inter_channels():
    with pytest.raises(ValueError, match='positive divisor'):
        NonLocalBlock(16, inter_channels=3)
    with pytest.raises(ValueError, match='positive divisor'):
        NonLocalBlock(16, inter_channels=0)


def build(non_local_blocks, num_specific_stages=0, **backbone):
    cfg = dict(type='ResNet', depth=50, base_channels=8,
               strides=(1, 2, 2, 1))
    cfg.update(backbone)
    return MODELS.build(
        dict(type='TwoStreamResNet',
             num_specific_stages=num_specific_stages,
             non_local_blocks=non_local_blocks,
             backbone=cfg))


def test_placed_after_the_last_blocks_of_each_stage():
    """AGW's --method agw: after blocks 2, 3 of layer2 and 3, 4, 5 of
    layer3 (the last 2 and 3), none in layer1 or layer4; the output equals
    the blocks and the non-local blocks run by hand in that order."""
    torch.manual_seed(0)
    net = build((0, 2, 3, 0))
    net.init_weights()
    assert set(net.non_local) == {'layer2', 'layer3'}
    assert [len(net.non_local[s]) for s in ('layer2', 'layer3')] == [2, 3]
    assert [b.in_channels for b in net.non_local['layer3']] == [128] * 3
    randomise(net.non_local, 2)  # not the identity any more
    net.eval()
    x = torch.randn(2, 3, 64, 32)
    modality = torch.tensor([0, 1])
    with torch.no_grad():
        out = net(x, modality)[-1]
        h = torch.stack([
            net.streams[m].maxpool(
                net.streams[m].relu(net.streams[m].norm1(
                    net.streams[m].conv1(x[i:i + 1]))))[0]
            for i, m in enumerate(modality.tolist())
        ])
        after = {'layer2': {2: 0, 3: 1}, 'layer3': {3: 0, 4: 1, 5: 2}}
        plain = h
        for name in ('layer1', 'layer2', 'layer3', 'layer4'):
            for i, block in enumerate(getattr(net.shared, name)):
                # the block alone (forward, not __call__: no hooks)
                h = block.forward(h)
                plain = block.forward(plain)
                if i in after.get(name, {}):
                    h = net.non_local[name][after[name][i]](h)
        torch.testing.assert_close(out, h)
        # without the non-local blocks the map differs
        assert not torch.allclose(plain, out, atol=1e-3)


def test_stage_modules_run_their_non_local_blocks():
    """A hook on a stage (Grad-CAM's ``backbone.shared.layer3``) sees its
    output after the non-local blocks, once per forward; a deep copy runs
    its own non-local blocks."""
    torch.manual_seed(0)
    net = build((0, 2, 3, 0))
    net.init_weights()
    randomise(net.non_local, 2)
    net.eval()
    x = torch.randn(2, 3, 64, 32)
    modality = torch.tensor([1, 0])
    seen = []
    handle = net.shared.layer3.register_forward_hook(
        lambda module, inputs, output: seen.append((inputs[0], output)))
    with torch.no_grad():
        net(x, modality)
    handle.remove()
    assert len(seen) == 1
    h = seen[0][0]
    with torch.no_grad():
        for i, block in enumerate(net.shared.layer3):
            h = block.forward(h)
            if i >= 3:
                h = net.non_local['layer3'][i - 3](h)
    torch.testing.assert_close(seen[0][1], h)

    twin = copy.deepcopy(net)
    with torch.no_grad():
        torch.testing.assert_close(twin(x, modality), net(x, modality))
        twin.non_local['layer3'][2].conv_out.norm.weight.zero_()
        twin.non_local['layer3'][2].conv_out.norm.bias.zero_()
        assert not torch.allclose(
            twin(x, modality)[-1], net(x, modality)[-1], atol=1e-3)


def test_identity_at_start_keeps_the_plain_backbone():
    torch.manual_seed(0)
    with_nl = build((0, 2, 3, 0))
    torch.manual_seed(0)
    plain = build(None)
    with_nl.init_weights()
    plain.load_state_dict(
        {k: v for k, v in with_nl.state_dict().items()
         if not k.startswith('non_local')})
    x = torch.randn(2, 3, 64, 32)
    modality = torch.tensor([1, 0])
    with_nl.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(with_nl(x, modality), plain(x, modality))


def test_pretrained_checkpoint_leaves_non_local_blocks_alone(tmp_path):
    torch.manual_seed(1)
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / 'resnet18_torchvision.pth'
    torch.save(state, path)
    net = build((0, 1, 1, 0), depth=18, base_channels=64,
                init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    net.init_weights()
    torch.testing.assert_close(net.shared.layer3[1].conv2.weight,
                               state['layer3.1.conv2.weight'])
    block = net.non_local['layer3'][0]
    assert block.in_channels == 256
    assert torch.equal(block.conv_out.norm.weight.detach(), torch.zeros(256))
    # ResNet's own init (Kaiming, BN weights 1) does not reach them either
    plain = build((0, 1, 1, 0), depth=18, base_channels=64)
    plain.init_weights()
    assert torch.equal(plain.non_local['layer2'][0].conv_out.norm.weight,
                       torch.zeros(128))


def test_off_by_default_and_bad_configs():
    assert len(build(None).non_local) == 0
    assert len(build((0, 0, 0, 0)).non_local) == 0
    with pytest.raises(ValueError, match='one count per residual stage'):
        build((0, 2, 3))
    with pytest.raises(ValueError, match=r'non_local_blocks\[2\] must be an '
                       r'int in \[0, 6\]'):
        build((0, 2, 7, 0))
    with pytest.raises(ValueError, match='layer2 is modality-specific'):
        build((0, 2, 3, 0), num_specific_stages=2)


def test_build_from_registry():
    block = MODELS.build(dict(type='NonLocalBlock', in_channels=8))
    assert isinstance(block, NonLocalBlock)
    assert block.mode == 'dot_product'
