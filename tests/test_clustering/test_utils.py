import threading
import time

import pytest
import torch

from mmvireid.clustering.utils import (cpu_workers, map_threads,
                                       single_threaded, take_rows)


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


@pytest.mark.parametrize('workers, window', [(1, None), (3, None), (2, 3)])
def test_map_threads_keeps_order_and_window(workers, window):
    running, started, seen = [0], [0], []
    lock = threading.Lock()

    def work(item):
        with lock:
            running[0] += 1
            started[0] += 1
            seen.append((running[0], torch.get_num_threads()))
        time.sleep(0.002 * (item % 3))
        with lock:
            running[0] -= 1
        return item * item

    consumed = []
    for result in map_threads(work, range(20), workers, window):
        consumed.append(result)
        # Items submitted and not yet yielded never exceed the window.
        assert started[0] - len(consumed) < (window or 2 * workers)
    assert consumed == [i * i for i in range(20)]
    assert max(count for count, _ in seen) <= workers
    if workers > 1:  # worker threads run torch single-threaded
        assert {threads for _, threads in seen} == {1}


def test_cpu_workers_sees_the_outer_setting():
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        inner = single_threaded(
            lambda: (cpu_workers(), torch.get_num_threads()))
        outer = single_threaded(lambda: inner() + (cpu_workers(), ))
        assert outer() == (3, 1, 3)
        assert cpu_workers() == 3
    finally:
        torch.set_num_threads(previous)
