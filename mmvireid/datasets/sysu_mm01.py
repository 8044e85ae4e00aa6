"""SYSU-MM01 in its official on-disk layout."""
import os.path as osp
from typing import List

import numpy as np

from mmvireid.registry import DATASETS
from mmvireid.structures import IR, RGB
from .base_vireid_dataset import BaseVIReIDDataset


@DATASETS.register_module()
class SYSUMM01Dataset(BaseVIReIDDataset):
    """SYSU-MM01 (Wu et al., ICCV 2017), read from the official release.

    Layout::

        data_root/
            cam1/ ... cam6/<pid:04d>/<img:04d>.jpg
            exp/train_id.txt, exp/val_id.txt, exp/test_id.txt

    Each ``exp/*_id.txt`` is one line of comma-separated ids (``1,2,4,5,7``).
    Cameras 1, 2, 4, 5 are visible (:data:`RGB`), cameras 3 and 6 infrared
    (:data:`IR`); ``camid`` is the camera number. Not every id is seen by
    every camera, so a missing ``camN/<pid>`` folder is skipped.

    - ``split='train'``: every image of the train and val ids, ``pid``
      relabelled to ``0..C-1`` in sorted order of the official id.
    - ``split='test'``: every image of the test ids, ``pid`` = official id.
      IR images are the queries (``is_query=True, is_gallery=False``), RGB
      images the gallery candidates (``is_query=False, is_gallery=True``),
      in sorted path order; the metric draws the single-shot galleries
      (all-search: cams 1, 2, 4, 5; indoor-search: cams 1, 2) from them.

    Args:
        data_root (str): Root of the release (holds ``cam1`` and ``exp``).
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        pipeline (list): Transforms applied to every item.
        **kwargs: Passed to :class:`BaseVIReIDDataset`.

    Example:
        >>> train_dataloader = dict(
        ...     dataset=dict(
        ...         type='SYSUMM01Dataset',
        ...         data_root='data/SYSU-MM01',
        ...         split='train',
        ...         pipeline=train_pipeline))
    """

    METAINFO = dict(dataset_name='SYSU-MM01')
    LAYOUT = ('SYSU-MM01 layout: cam1..cam6/<pid:04d>/<img:04d>.jpg and '
              'exp/train_id.txt, exp/val_id.txt, exp/test_id.txt')
    #: Camera numbers (``camid``) of the visible and the infrared cameras.
    RGB_CAMIDS = (1, 2, 4, 5)
    IR_CAMIDS = (3, 6)
    #: Folder of camera ``camid`` under ``data_root``.
    CAM_FOLDER = 'cam{}'
    #: Id list of each official part, relative to ``data_root``; the train
    #: split reads ``train`` and ``val``, the test split ``test``.
    ID_LISTS = dict(
        train='exp/train_id.txt', val='exp/val_id.txt', test='exp/test_id.txt')

    def load_data_list(self) -> List[dict]:
        """Scan the camera folders for the ids of the split.

        Returns:
            list[dict]: One dict per image (see :class:`BaseVIReIDDataset`).
        """
        id_lists = {
            part: osp.join(self.data_root, name)
            for part, name in self.ID_LISTS.items()
        }
        train_ids = self._read_id_list(id_lists['train']) + \
            self._read_id_list(id_lists['val'])
        test_ids = self._read_id_list(id_lists['test'])
        shared = sorted(set(train_ids) & set(test_ids))
        if shared:
            raise ValueError(
                f'{type(self).__name__}: ids {shared[:10]} are listed both in '
                f"{id_lists['train']} or {id_lists['val']} and in "
                f"{id_lists['test']}; the train and test ids must be disjoint")
        ids = train_ids if self.split == 'train' else test_ids

        img_paths, pids, camids = [], [], []
        for camid in sorted(self.RGB_CAMIDS + self.IR_CAMIDS):
            cam_dir = self._require(
                osp.join(self.data_root, self.CAM_FOLDER.format(camid)),
                'camera folder')
            cam_paths, cam_pids = self._list_pid_images(cam_dir, ids)
            img_paths += cam_paths
            pids.append(cam_pids)
            camids.append(np.full(len(cam_paths), camid))
        pids = np.concatenate(pids)
        camids = np.concatenate(camids)
        is_ir = np.isin(camids, self.IR_CAMIDS)
        return self._build_data_list(
            img_paths,
            pids,
            camids,
            np.where(is_ir, IR, RGB),
            is_query=is_ir,
            is_gallery=~is_ir)
