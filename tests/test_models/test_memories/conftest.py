import threading
from concurrent.futures import ThreadPoolExecutor

import mmengine.dist
import pytest


@pytest.fixture
def two_ranks(monkeypatch):
    """Run one callable per simulated rank, in two threads.

    ``mmengine.dist.get_world_size`` returns 2 and ``mmengine.dist.all_gather``
    behaves as the collective: every rank passes its tensor and gets the list
    of both ranks' tensors, in rank order.
    """
    world_size = 2
    barrier = threading.Barrier(world_size, timeout=30)
    slots = [None] * world_size
    local = threading.local()

    def all_gather(data, group=None):
        slots[local.rank] = data.clone()
        barrier.wait()
        gathered = [slot.clone() for slot in slots]
        barrier.wait()
        return gathered

    monkeypatch.setattr(mmengine.dist, 'all_gather', all_gather)
    monkeypatch.setattr(mmengine.dist,
                        'get_world_size',
                        lambda group=None: world_size)

    def run(*per_rank):

        def target(rank):
            local.rank = rank
            return per_rank[rank]()

        with ThreadPoolExecutor(world_size) as pool:
            futures = [pool.submit(target, r) for r in range(world_size)]
            return [future.result() for future in futures]

    return run
