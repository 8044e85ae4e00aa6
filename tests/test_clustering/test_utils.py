import pytest
import torch

from mmvireid.clustering.utils import single_threaded, take_rows


def test_single_threaded_sets_one_thread_and_restores():
    seen = []

    @single_threaded
    def work(fail):
        seen.append(torch.get_num_threads())
        if fail:
            raise RuntimeError('boom')
        return 'done'

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert work(False) == 'done'
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match='boom'):
            work(True)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
    assert seen == [1, 1]


def test_take_rows_matches_advanced_indexing():
    table = torch.arange(24).view(6, 4)
    index = torch.tensor([[5, 0], [2, 2]])
    out = take_rows(table, index)
    assert out.shape == (2, 2, 4)
    assert out[0, 0].tolist() == [20, 21, 22, 23]
    assert out[1, 1].tolist() == [8, 9, 10, 11]
    assert take_rows(torch.tensor([7, 8, 9]), index.clamp(max=2)).tolist() \
        == [[9, 7], [9, 9]]
