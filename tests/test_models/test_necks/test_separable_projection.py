import pytest
import torch
import torch.nn as nn

from mmvireid.models.necks import SeparableConvProjection
from mmvireid.registry import MODELS


def _block_params(cin, cout):
    """dw 3x3 (C) + 1x1 (C -> C) + BN(C) + dw 3x3 (C) + 1x1 (C -> 2C) +
    BN(2C); no conv bias, BN has weight and bias."""
    return 9 * cin + cin * cin + 2 * cin + 9 * cin + cin * cout + 2 * cout


@pytest.mark.parametrize(
    'in_channels, out_channels, size, num_blocks',
    [
        (256, 2048, (72, 36), 3),  # ResNet-50 layer1 at 288x144
        (512, 2048, (36, 18), 2),  # layer2
        (1024, 2048, (18, 9), 1),  # layer3 (last stride 1: layer4's size)
        (64, 512, (72, 36), 3),  # ResNet-18 layer1
        (128, 512, (36, 18), 2),  # ResNet-18 layer2
        (256, 512, (18, 9), 1),  # ResNet-18 layer3
    ])
def test_auxiliary_maps_are_9x5_at_288x144(in_channels, out_channels, size,
                                           num_blocks):
    """Every block has stride 2, as the released SepConv: the auxiliary maps
    of MCLNet end at 9x5 (layer4's map is 18x9); last_stride=1 keeps
    layer4's 18x9."""
    neck = SeparableConvProjection(in_channels, out_channels)
    assert neck.num_blocks == num_blocks
    assert neck.strides == (2, ) * num_blocks
    with torch.no_grad():
        out = neck(torch.randn(1, in_channels, *size))
    assert out.shape == (1, out_channels, 9, 5)
    neck = SeparableConvProjection(in_channels, out_channels, last_stride=1)
    assert neck.strides == (2, ) * (num_blocks - 1) + (1, )
    with torch.no_grad():
        out = neck(torch.randn(1, in_channels, *size))
    assert out.shape == (1, out_channels, 18, 9)


def test_parameter_count_by_hand():
    assert _block_params(1024, 2048) == 3_170_304
    layer3_head = SeparableConvProjection(1024, 2048)
    assert sum(p.numel()
               for p in layer3_head.parameters()) == _block_params(1024, 2048)
    layer1_head = SeparableConvProjection(256, 2048)
    assert sum(
        p.numel()
        for p in layer1_head.parameters()) == (_block_params(256, 512) +
                                               _block_params(512, 1024) +
                                               _block_params(1024, 2048))


def test_matches_hand_built_sepconv():
    """Same weights in the textbook SepConv stack give the same output."""
    torch.manual_seed(0)
    neck = SeparableConvProjection(4, 16, last_stride=1)
    reference = []
    for channels, stride in ((4, 2), (8, 1)):
        reference += [
            nn.Conv2d(channels,
                      channels,
                      3,
                      stride,
                      1,
                      groups=channels,
                      bias=False),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1, groups=channels,
                      bias=False),
            nn.Conv2d(channels, 2 * channels, 1, bias=False),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
        ]
    reference = nn.Sequential(*reference)
    for module in neck.modules():
        if isinstance(module, nn.BatchNorm2d):
            for tensor in (module.weight, module.bias, module.running_mean):
                nn.init.uniform_(tensor, -1., 1.)
            nn.init.uniform_(module.running_var, .5, 2.)
    # Same parameter and buffer order, module by module.
    reference.load_state_dict(
        dict(zip(reference.state_dict(),
                 neck.state_dict().values())))
    neck.eval()
    reference.eval()
    x = torch.randn(2, 4, 12, 6)
    torch.testing.assert_close(neck(x), reference(x))


def test_bad_config_raises():
    with pytest.raises(ValueError, match='power of 2'):
        SeparableConvProjection(256, 1536)
    with pytest.raises(ValueError, match='power of 2'):
        SeparableConvProjection(256, 256)
    with pytest.raises(ValueError, match='last_stride must be 1 or 2'):
        SeparableConvProjection(256, 2048, last_stride=3)


def test_build_from_registry():
    neck = MODELS.build(
        dict(type='SeparableConvProjection',
             in_channels=512,
             out_channels=2048))
    assert isinstance(neck, SeparableConvProjection)
    assert neck.strides == (2, 2)
