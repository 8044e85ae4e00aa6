import pytest
import torch
import torch.nn.functional as F


def _close_features(num, dim, cosine, seed=0):
    """(num, dim) non-negative-mean features around one direction, with a
    mean pairwise cosine of about ``cosine`` and norms about 30 (pooled ReID
    features late in training): the case where squared distances or logits
    formed in bfloat16 lose their digits."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(dim, generator=gen) + 0.5
    noise = torch.randn(num, dim, generator=gen)
    spread = ((1 - cosine) / cosine)**0.5 * base.norm() / dim**0.5
    feats = 30 * (base + spread * noise) / base.norm()
    unit = F.normalize(feats, dim=1)
    off_diagonal = ~torch.eye(num, dtype=torch.bool)
    assert (unit @ unit.t())[off_diagonal].mean().item() == pytest.approx(
        cosine, abs=0.02)
    return feats


@pytest.fixture
def close_features():
    return _close_features
