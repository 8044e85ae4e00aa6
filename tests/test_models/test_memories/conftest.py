import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import mmengine.dist
import pytest


@pytest.fixture
def two_ranks(monkeypatch):
    """Run one callable per simulated rank, in two threads.

    Inside the callables ``mmengine.dist.get_world_size`` returns 2 (1
    outside), ``get_rank`` the thread's rank, and ``all_gather``,
    ``broadcast`` and ``broadcast_object_list`` behave as the collectives:
    ``all_gather`` gives every rank the list of both ranks' tensors, in rank
    order; the broadcasts give every rank the source rank's tensor (in
    place) or objects (in the list).
    """
    world_size = 2
    barrier = threading.Barrier(world_size, timeout=30)
    slots = [None] * world_size
    local = threading.local()

    def exchange(data):
        """Every rank's ``data``, after all ranks have handed theirs."""
        slots[local.rank] = data
        barrier.wait()
        gathered = [copy.deepcopy(slot) for slot in slots]
        barrier.wait()
        return gathered

    def all_gather(data, group=None):
        return exchange(data.clone())

    def broadcast(data, src=0, group=None):
        data.copy_(exchange(data.clone())[src])

    def broadcast_object_list(data, src=0, group=None):
        data[:] = exchange(list(data))[src]

    monkeypatch.setattr(mmengine.dist, 'all_gather', all_gather)
    monkeypatch.setattr(mmengine.dist, 'broadcast', broadcast)
    monkeypatch.setattr(mmengine.dist, 'broadcast_object_list',
                        broadcast_object_list)
    monkeypatch.setattr(
        mmengine.dist, 'get_world_size', lambda group=None: world_size
        if hasattr(local, 'rank') else 1)
    monkeypatch.setattr(mmengine.dist, 'get_rank',
                        lambda group=None: getattr(local, 'rank', 0))

    def run(*per_rank):

        def target(rank):
            local.rank = rank
            return per_rank[rank]()

        with ThreadPoolExecutor(world_size) as pool:
            futures = [pool.submit(target, r) for r in range(world_size)]
            return [future.result() for future in futures]

    return run
