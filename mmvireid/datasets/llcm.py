"""LLCM in its official on-disk layout."""
import os.path as osp
import re
from typing import List

import numpy as np

from mmvireid.registry import DATASETS
from mmvireid.structures import IR, RGB
from .base_vireid_dataset import BaseVIReIDDataset


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
    #: Train index file of each modality, relative to ``data_root``.
    TRAIN_INDEX = {RGB: 'idx/train_vis.txt', IR: 'idx/train_nir.txt'}
    #: Comma-separated test ids, relative to ``data_root``.
    TEST_ID_LIST = 'idx/test_id.txt'
    #: Image folder of each split and modality under ``data_root``.
    IMG_FOLDERS = {
        'train': {RGB: 'train_vis', IR: 'train_nir'},
        'test': {RGB: 'test_vis', IR: 'test_nir'}
    }
    #: Camera numbers of each modality (the release has no NIR camera 3).
    CAMIDS = {RGB: (1, 2, 3, 4, 5, 6, 7, 8, 9), IR: (1, 2, 4, 5, 6, 7, 8, 9)}
    #: Folder of camera ``camid`` under an image folder.
    CAM_FOLDER = 'cam{}'

    def load_data_list(self) -> List[dict]:
        """Read the train index files or scan the test camera folders.

        Returns:
            list[dict]: One dict per image (see :class:`BaseVIReIDDataset`).
        """
        if self.split == 'train':
            return self._load_train()
        return self._load_test()

    def _camid(self, img_path: str, index_file: str) -> int:
        """Camera number of ``.../camN/<pid>/<name>`` (:attr:`CAM_FOLDER`)."""
        cam_folder = osp.basename(osp.dirname(osp.dirname(img_path)))
        pattern = re.escape(self.CAM_FOLDER).replace(
            re.escape('{}'), r'(\d+)')
        match = re.fullmatch(pattern, cam_folder)
        if match is None:
            raise ValueError(
                f'{type(self).__name__}: {index_file!r} lists {img_path!r}, '
                f'which is not under a {self.CAM_FOLDER.format("N")}/<pid>/ '
                'folder; expected paths like '
                '"train_vis/cam4/0001/0001_c04_s191201_f4434_1.jpg"')
        return int(match.group(1))

    def _load_train(self) -> List[dict]:
        img_paths, pids, camids, modalities = [], [], [], []
        for modality, name in self.TRAIN_INDEX.items():
            index_file = osp.join(self.data_root, name)
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
            osp.join(self.data_root, self.TEST_ID_LIST))
        img_paths, pids, camids, modalities = [], [], [], []
        for modality, folder in self.IMG_FOLDERS['test'].items():
            for camid in self.CAMIDS[modality]:
                cam_dir = self._require(
                    osp.join(self.data_root, folder,
                             self.CAM_FOLDER.format(camid)), 'camera folder')
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
