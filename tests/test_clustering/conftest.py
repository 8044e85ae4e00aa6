"""Dense reference of the k-reciprocal Jaccard distance, written from
methods.md §5.1 the way the community code (cluster-contrast
``compute_jaccard_distance``) does it: faiss kNN, per-row loops, dense N×N."""
import functools

import faiss
import numpy as np
import pytest
import torch
import torch.nn.functional as F


def dense_jaccard(features, k1=30, k2=6):
    features = torch.as_tensor(features, dtype=torch.float32)
    num = features.size(0)
    index = faiss.IndexFlatL2(features.size(1))
    index.add(features.numpy())
    _, rank = index.search(features.numpy(), min(k1, num))

    def reciprocal(i, k):
        forward = rank[i, :k + 1]
        backward = rank[forward, :k + 1]
        return forward[np.where(backward == i)[0]]

    nn_k1 = [reciprocal(i, k1) for i in range(num)]
    nn_half = [reciprocal(i, int(np.around(k1 / 2))) for i in range(num)]
    v = np.zeros((num, num), dtype=np.float32)
    for i in range(num):
        expansion = nn_k1[i]
        for candidate in nn_k1[i]:
            cand = nn_half[candidate]
            if len(np.intersect1d(cand, nn_k1[i])) > 2 / 3 * len(cand):
                expansion = np.append(expansion, cand)
        expansion = np.unique(expansion)
        dist = 2 - 2 * torch.mm(features[i][None], features[expansion].t())
        v[i, expansion] = F.softmax(-dist, dim=1).view(-1).numpy()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(0) for i in range(num)])
    inv_index = [np.where(v[:, i] != 0)[0] for i in range(num)]
    jaccard = np.zeros((num, num), dtype=np.float32)
    for i in range(num):
        temp_min = np.zeros((1, num), dtype=np.float32)
        nonzero = np.where(v[i] != 0)[0]
        for c in nonzero:
            temp_min[0, inv_index[c]] += np.minimum(v[i, c], v[inv_index[c],
                                                               c])
        jaccard[i] = 1 - temp_min / (2 - temp_min)
    jaccard[jaccard < 0] = 0
    return jaccard


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
