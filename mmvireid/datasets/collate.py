"""Collate a batch whose items may hold several views."""
from typing import Sequence

from mmengine.dataset import pseudo_collate

from mmvireid.registry import FUNCTIONS


@FUNCTIONS.register_module()
def multi_view_collate(data_batch: Sequence[dict]) -> dict:
    """MMEngine's ``pseudo_collate``, one sample per view.

    An item whose ``inputs`` is a list (several views, from
    :class:`ModalityViews`) becomes one sample per view, each with its own
    data sample. The samples are ordered view by view: the first view of
    every item in batch order, then the second views of the items that have
    one, and so on, as ADCA / PGM concatenate an RGB batch with its
    channel-exchanged copy (yangbincv/ADCA ``clustercontrast/trainers.py``
    L134–135); each memory then sees its modality's updates in their order.
    Items with one view pass unchanged.

    Args:
        data_batch (Sequence[dict]): Items with ``inputs`` and
            ``data_samples``.

    Returns:
        dict: ``inputs`` and ``data_samples``, lists with one entry per
        view.

    Example:
        >>> train_dataloader = dict(
        ...     batch_size=(8 + 16) * 16,
        ...     collate_fn=dict(type='mmvireid.multi_view_collate'),
        ...     sampler=dict(type='PseudoLabelSampler',
        ...                  num_pids=dict(rgb=8, ir=16), num_instances=16),
        ...     dataset=dict(pipeline=two_view_pipeline))
    """
    views = [
        list(zip(item['inputs'], item['data_samples']))
        if isinstance(item['inputs'], list) else
        [(item['inputs'], item['data_samples'])] for item in data_batch
    ]
    flat = [
        dict(inputs=item_views[v][0], data_samples=item_views[v][1])
        for v in range(max(map(len, views), default=0))
        for item_views in views if v < len(item_views)
    ]
    return pseudo_collate(flat)
