"""Reference cases: clustered features and their distances by the dense
reference :func:`mmvireid.testing.dense_jaccard`."""
import functools

import pytest
import torch
import torch.nn.functional as F

from mmvireid.testing import dense_jaccard


def clustered_features(num_ids, per_id, dim, noise=1.0, seed=0):
    """Unit features around ``num_ids`` random identity centres."""
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(num_ids, dim, generator=gen), dim=1)
    pids = torch.arange(num_ids).repeat_interleave(per_id)
    scale = noise * (0.5 + torch.rand(len(pids), 1, generator=gen))
    noise = torch.randn(len(pids), dim, generator=gen) / dim**0.5
    return F.normalize(centres[pids] + scale * noise, dim=1), pids


#: (num_ids, per_id, dim, noise, k1, k2) of the reference comparisons:
#: N = 3000; N = 1000 noisier; odd k1 (round(3.5) = 4) without query
#: expansion; k1 = 5 (round(2.5) = 2) with heavy noise; N = 12 < k1.
REFERENCE_CASES = [(100, 30, 64, 1.0, 30, 6), (40, 25, 128, 1.5, 20, 6),
                   (30, 20, 32, 1.0, 7, 1), (20, 10, 16, 3.0, 5, 3),
                   (4, 3, 16, 1.0, 30, 6)]


@functools.lru_cache(maxsize=None)
def _reference_case(case):
    num_ids, per_id, dim, noise, k1, k2 = case
    features, _ = clustered_features(num_ids, per_id, dim, noise)
    return features, dense_jaccard(features, k1, k2)


@pytest.fixture(
    params=REFERENCE_CASES,
    ids=lambda c: 'N{}_k1{}_k2{}'.format(c[0] * c[1], c[4], c[5]))
def reference_case(request):
    """(features, k1, k2, dense reference distances), cached per case."""
    features, reference = _reference_case(request.param)
    return features, request.param[4], request.param[5], reference


@pytest.fixture(
    params=[case for case in REFERENCE_CASES if case[0] * case[1] <= 1000],
    ids=lambda c: 'N{}_k1{}_k2{}'.format(c[0] * c[1], c[4], c[5]))
def small_reference_case(request):
    """The reference cases with N ≤ 1000, for tests that run many chunks."""
    features, reference = _reference_case(request.param)
    return features, request.param[4], request.param[5], reference
