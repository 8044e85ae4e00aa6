import torch

from mmvireid.models.utils import occurrence_rank


def _loop_rank(keys):
    seen = {}
    ranks = []
    for key in keys:
        ranks.append(seen.get(key, 0))
        seen[key] = seen.get(key, 0) + 1
    return ranks


def test_hand_example():
    keys = torch.tensor([3, 1, 3, 3, 1])
    assert occurrence_rank(keys).tolist() == [0, 0, 1, 2, 1]


def test_empty():
    assert occurrence_rank(torch.zeros(0, dtype=torch.long)).numel() == 0


def test_against_loop_reference():
    generator = torch.Generator().manual_seed(0)
    keys = torch.randint(-1, 6, (200, ), generator=generator)
    assert occurrence_rank(keys).tolist() == _loop_rank(keys.tolist())
