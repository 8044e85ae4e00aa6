"""LLCM in its official on-disk layout."""
import os.path as osp
import re
from typing import List

import numpy as np

from mmvireid.registry import DATASETS
from .base_vireid_dataset import IR, RGB, BaseVIReIDDataset


@DATASETS.register_module()
class LLCMDataset(BaseVIReIDDataset):
    """LLCM (Zhang & Wang, CVPR 2023), read from the official release.

    Layout::

        data_root/
            idx/train_vis.txt, idx/train_nir.txt, idx/test_id.txt
            train_vis/camN/<pid:04d>/*.jpg, train_nir/camN/<pid:04d>/*.jpg
            test_vis/cam1..cam9/<pid:04d>/*.jpg
            test_nir/cam1, cam2, cam4..cam9/<pid:04d>/*.jpg  (no NIR cam3)

    Train index lines are ``<relative path> <label>``, e.g.
    ``train_vis/cam4/0001/0001_c04_s191201_f4434_1.jpg 0``; ``test_id.txt``
    is one line of comma-separated ids. ``camid`` is the number after
    ``cam`` in the path (visible and NIR images share camera numbers);
    ``vis`` images are :data:`RGB`, ``nir`` images :data:`IR`.

    - ``split='train'``: the two train index files, labels relabelled to
      ``0..C-1`` in sorted order.
    - ``split='test'``: every image of the test ids, ``pid`` = official id.
      Both directions are evaluated, so every image is a query and a gallery
      candidate; the metric draws one gallery image per id and camera and
      removes gallery items sharing the query's id and camera number.

    Args:
        data_root (str): Root of the release (holds ``idx``).
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        pipeline (list): Transforms applied to every item.
        **kwargs: Passed to :class:`BaseVIReIDDataset`.

    Example:
        >>> test_dataloader = dict(
        ...     dataset=dict(
        ...         type='LLCMDataset',
        ...         data_root='data/LLCM',
        ...         split='test',
        ...         pipeline=test_pipeline))
    """

    METAINFO = dict(dataset_name='LLCM')
    LAYOUT = ('LLCM layout: idx/train_vis.txt, idx/train_nir.txt, '
              'idx/test_id.txt, test_vis/cam1..cam9/<pid:04d>/*.jpg and '
              'test_nir/cam{1,2,4..9}/<pid:04d>/*.jpg')
    #: Index file, test folder and cameras of each modality.
    TRAIN_INDEX = {RGB: 'train_vis.txt', IR: 'train_nir.txt'}
    TEST_FOLDERS = {RGB: 'test_vis', IR: 'test_nir'}
    TEST_CAMIDS = {RGB: (1, 2, 3, 4, 5, 6, 7, 8, 9),
                   IR: (1, 2, 4, 5, 6, 7, 8, 9)}
    _CAM_PATTERN = re.compile(r'cam(\d+)$')

    def load_data_list(self) -> List[dict]:
        """Read the train index files or scan the test camera folders.

        Returns:
            list[dict]: One dict per image (see :class:`BaseVIReIDDataset`).
        """
        if self.split == 'train':
            return self._load_train()
        return self._load_test()

    def _camid(self, img_path: str, index_file: str) -> int:
        """Camera number of ``.../camN/<pid>/<name>``."""
        cam_folder = osp.basename(osp.dirname(osp.dirname(img_path)))
        match = self._CAM_PATTERN.match(cam_folder)
        if match is None:
            raise ValueError(
                f'{type(self).__name__}: {index_file!r} lists {img_path!r}, '
                'which is not under a camN/<pid>/ folder; expected paths '
                'like "train_vis/cam4/0001/0001_c04_s191201_f4434_1.jpg"')
        return int(match.group(1))

    def _load_train(self) -> List[dict]:
        img_paths, pids, camids, modalities = [], [], [], []
        for modality, name in self.TRAIN_INDEX.items():
            index_file = osp.join(self.data_root, 'idx', name)
            paths, labels = self._read_index_file(index_file)
            img_paths += paths
            pids.append(labels)
            camids.append([self._camid(p, index_file) for p in paths])
            modalities.append(np.full(len(paths), modality))
        return self._build_data_list(img_paths, np.concatenate(pids),
                                     np.concatenate(camids),
                                     np.concatenate(modalities))

    def _load_test(self) -> List[dict]:
        test_ids = self._read_id_list(
            osp.join(self.data_root, 'idx', 'test_id.txt'))
        img_paths, pids, camids, modalities = [], [], [], []
        for modality, folder in self.TEST_FOLDERS.items():
            for camid in self.TEST_CAMIDS[modality]:
                cam_dir = self._require(
                    osp.join(self.data_root, folder, f'cam{camid}'),
                    'camera folder')
                cam_paths, cam_pids = self._list_pid_images(cam_dir, test_ids)
                img_paths += cam_paths
                pids.append(cam_pids)
                camids.append(np.full(len(cam_paths), camid))
                modalities.append(np.full(len(cam_paths), modality))
        both = np.ones(len(img_paths), dtype=bool)
        return self._build_data_list(
            img_paths,
            np.concatenate(pids),
            np.concatenate(camids),
            np.concatenate(modalities),
            is_query=both,
            is_gallery=both)
