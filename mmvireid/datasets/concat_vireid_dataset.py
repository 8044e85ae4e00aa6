"""Several VI-ReID training sets as one, each keeping its own identities."""
import copy
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import ConcatDataset
from mmengine.logging import print_log

from mmvireid.registry import DATASETS
from .base_vireid_dataset import BaseVIReIDDataset


@DATASETS.register_module()
class VIReIDConcatDataset(ConcatDataset):
    """MMEngine's ``ConcatDataset`` of VI-ReID training sets with disjoint
    label spaces.

    Each training split relabels its identities to ``0..C_i-1``, so in
    MMEngine's ``ConcatDataset`` pid ``k`` of SYSU-MM01 and pid ``k`` of LLCM
    would be one class (and ``sample_idx`` would restart at 0 in every
    part). Here part ``i`` keeps its items with

    - ``pid`` offset by ``C_0 + ... + C_{i-1}``: the label spaces are
      disjoint and together ``0..ΣC_i-1`` (the head's ``num_classes``);
    - ``sample_idx`` the index in the concatenation (feature extraction and
      instance memories index by it).

    ``pids``, ``camids``, ``modalities`` and ``pseudo_labels`` read as those
    of :class:`BaseVIReIDDataset`, so the samplers, the checks and
    :class:`ClusteringHook` take the concatenation as one training set; the
    hook clusters every part on its own (:attr:`part_ranges`), so no
    pseudo-identity spans two datasets either. Camera numbers stay those of
    each dataset.

    Args:
        datasets (Sequence[BaseVIReIDDataset | dict]): Training sets (their
            ``split='train'``) or their configs.
        lazy_init (bool): Defer loading the parts. Defaults to False.

    Example:
        >>> train_dataloader = dict(dataset=dict(
        ...     type='VIReIDConcatDataset',
        ...     datasets=[
        ...         dict(type='SYSUMM01Dataset', data_root='data/sysu_mm01',
        ...              pipeline=train_pipeline),
        ...         dict(type='LLCMDataset', data_root='data/llcm',
        ...              pipeline=train_pipeline),
        ...     ]))
        >>> model = dict(head=dict(num_classes=395 + 713))
    """

    def __init__(self,
                 datasets: Sequence[Union[BaseVIReIDDataset, dict]],
                 lazy_init: bool = False) -> None:
        if not datasets:
            raise ValueError('VIReIDConcatDataset: datasets is empty')
        parts = [
            DATASETS.build(d) if isinstance(d, dict) else d for d in datasets
        ]
        for i, part in enumerate(parts):
            if not isinstance(part, BaseVIReIDDataset) \
                    or part.split != 'train':
                raise TypeError(
                    f'VIReIDConcatDataset: datasets[{i}] must be a VI-ReID '
                    "training set (a BaseVIReIDDataset with split='train'), "
                    f'got {type(part).__name__} with split '
                    f'{getattr(part, "split", None)!r}')
        # the parts' metainfo (dataset_name) differs by design
        super().__init__(
            parts,
            lazy_init=True,
            ignore_keys=sorted({k
                                for part in parts for k in part.metainfo}))
        self._metainfo = dict(
            dataset_name='+'.join(
                str(part.metainfo.get('dataset_name')) for part in parts),
            split='train')
        self._pid_offsets: Optional[np.ndarray] = None
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        """Load the parts and compute their pid offsets."""
        if self._fully_initialized:
            return
        super().full_init()
        sizes = [int(part.pids.max(initial=-1)) + 1 for part in self.datasets]
        self._pid_offsets = np.cumsum([0] + sizes[:-1])
        print_log(
            'VIReIDConcatDataset: ' + ', '.join(
                f'{name} ids {offset}..{offset + size - 1}'
                for name, offset, size in zip(
                    self._metainfo['dataset_name'].split('+'),
                    self._pid_offsets, sizes)),
            logger='current',
            level=logging.INFO)

    @property
    def part_ranges(self) -> List[Tuple[int, int]]:
        """list[tuple[int, int]]: ``(start, end)`` of every part's items in
        the concatenation."""
        self.full_init()
        ends = list(self.cumulative_sizes)
        return list(zip([0] + ends[:-1], ends))

    def get_data_info(self, idx: int) -> dict:
        """Item ``idx`` of its part, with the concatenation's ``pid`` and
        ``sample_idx``."""
        self.full_init()
        part, local = self._get_ori_dataset_idx(idx)
        info = self.datasets[part].get_data_info(local)
        info['pid'] = int(info['pid'] + self._pid_offsets[part])
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        return info

    def __getitem__(self, idx: int) -> dict:
        """Item ``idx`` through the pipeline of its part."""
        self.full_init()
        part, _ = self._get_ori_dataset_idx(idx)
        data = self.datasets[part].pipeline(self.get_data_info(idx))
        if data is None:
            raise ValueError(
                f'VIReIDConcatDataset: the pipeline of datasets[{part}] '
                f'dropped item {idx}; VI-ReID pipelines must keep every item')
        return data

    def with_pipeline(self, pipeline: Sequence[dict]
                      ) -> 'VIReIDConcatDataset':
        """A shallow copy reading the same items through ``pipeline``
        (see :meth:`BaseVIReIDDataset.with_pipeline`)."""
        view = copy.copy(self)
        view.datasets = [part.with_pipeline(pipeline)
                         for part in self.datasets]
        return view

    def _concat(self, key: str) -> np.ndarray:
        self.full_init()
        return np.concatenate([getattr(part, key) for part in self.datasets])

    @property
    def pids(self) -> np.ndarray:
        """np.ndarray: ``pid`` of every item in the concatenation's label
        space, shape (N,)."""
        self.full_init()
        return np.concatenate([
            part.pids + offset
            for part, offset in zip(self.datasets, self._pid_offsets)
        ])

    @property
    def camids(self) -> np.ndarray:
        """np.ndarray: ``camid`` of every item (each dataset's numbers),
        shape (N,)."""
        return self._concat('camids')

    @property
    def modalities(self) -> np.ndarray:
        """np.ndarray: ``modality`` of every item, shape (N,)."""
        return self._concat('modalities')

    @property
    def num_pids(self) -> int:
        """int: identities of all parts together."""
        return len(np.unique(self.pids))

    @property
    def pseudo_labels(self) -> Optional[np.ndarray]:
        """np.ndarray | None: ``pseudo_label`` of every item, (N,); None
        before :meth:`set_pseudo_labels`."""
        self.full_init()
        labels = [part.pseudo_labels for part in self.datasets]
        return None if any(x is None for x in labels) else np.concatenate(
            labels)

    def set_pseudo_labels(self, labels) -> None:
        """Give every item a ``pseudo_label`` (or remove them with None):
        each part gets its slice (see
        :meth:`BaseVIReIDDataset.set_pseudo_labels`).

        Args:
            labels (array-like | None): (N,) integer labels, -1 for outliers.
        """
        self.full_init()
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(self), ):
                raise ValueError(
                    'VIReIDConcatDataset.set_pseudo_labels: expected '
                    f'{len(self)} labels (one per item), got an array of '
                    f'shape {labels.shape}')
        for part, (start, end) in zip(self.datasets, self.part_ranges):
            part.set_pseudo_labels(None if labels is None else
                                   labels[start:end])
