import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmvireid.visualization import grad_cam, overlay_cam


class LeftHalf(nn.Module):
    """A convolution whose maps are zero on the right half."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, inputs):
        maps = self.conv(inputs)
        return maps * (torch.arange(maps.shape[-1]) < maps.shape[-1] // 2)


class LeftHalfModel(nn.Module):
    """A feature built from the left half of the image only."""

    def __init__(self):
        super().__init__()
        self.backbone = LeftHalf()
        self.head = nn.Module()
        self.head.pre_logits = lambda feats: feats[-1]

    def extract_feat(self, inputs, modality=None):
        return (F.relu(self.backbone(inputs)).mean(dim=(2, 3)), )


def test_cam_covers_what_the_feature_reads():
    torch.manual_seed(0)
    model = LeftHalfModel().train()
    x = torch.randn(2, 3, 8, 8)
    cam = grad_cam(model, x)
    assert cam.shape == (2, 8, 8) and model.training
    assert torch.allclose(cam.flatten(1).max(1)[0], torch.ones(2))
    assert cam[..., 5:].abs().max() == 0 and cam[..., :3].sum() > 0
    assert model.backbone.conv.weight.grad is None


def test_against_autograd_grad():
    """The hooks' CAM equals one computed with torch.autograd.grad."""
    torch.manual_seed(0)
    model = LeftHalfModel()
    x = torch.randn(3, 3, 8, 8)
    target = torch.randn(4)
    cam = grad_cam(model, x, target=target)
    activation = model.backbone(x)
    feats = F.relu(activation).mean(dim=(2, 3))
    score = F.cosine_similarity(feats, target[None], dim=1).sum()
    grad, = torch.autograd.grad(score, activation)
    expected = F.relu((grad.mean(dim=(2, 3), keepdim=True) *
                       activation).sum(1)).detach()
    expected = expected / expected.flatten(1).max(1)[0][:, None, None]
    torch.testing.assert_close(cam, expected)


def test_bad_layers_and_overlay():
    model = LeftHalfModel()
    with pytest.raises(ValueError, match='no module'):
        grad_cam(model, torch.randn(1, 3, 8, 8), layer='neck.x')
    model.pool = nn.Identity()
    model.backbone = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Flatten())
    with pytest.raises(ValueError, match=r'\(N, C, h, w\) feature map'):
        grad_cam(model, torch.randn(1, 3, 8, 8))
    image = np.zeros((16, 8, 3), np.uint8)
    out = overlay_cam(image, np.ones((4, 2)))
    assert out.shape == (16, 8, 3) and out.dtype == np.uint8
    assert (out[..., 0] > 50).all()  # jet's top is dark red
