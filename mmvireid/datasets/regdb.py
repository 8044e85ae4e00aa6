"""RegDB in its official on-disk layout."""
import os.path as osp
from typing import List

import numpy as np

from mmvireid.registry import DATASETS
from mmvireid.structures import IR, RGB
from .base_vireid_dataset import BaseVIReIDDataset


@DATASETS.register_module()
class RegDBDataset(BaseVIReIDDataset):
    """RegDB (Nguyen et al., Sensors 2017), one of its ten trials.

    Layout::

        data_root/
            Visible/<id>/<name>.bmp, Thermal/<id>/<name>.bmp
            idx/train_visible_{t}.txt, idx/train_thermal_{t}.txt
            idx/test_visible_{t}.txt, idx/test_thermal_{t}.txt

    Each index line is ``<path relative to data_root> <label>``, e.g.
    ``Visible/100/male_back_v_06418_1.bmp 0``. Visible images have
    ``camid=1`` and :data:`RGB`, thermal images ``camid=2`` and :data:`IR`.

    - ``split='train'``: the trial's train lists, labels relabelled to
      ``0..C-1`` in sorted order.
    - ``split='test'``: the trial's test lists, ``pid`` = the file's label.
      The protocol evaluates both directions (visible to thermal and thermal
      to visible), so every image is a query and a gallery candidate.

    Args:
        data_root (str): Root of the release (holds ``Visible``, ``Thermal``
            and ``idx``).
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        trial (int): Trial ``t`` in 1..10, picks the index files. One model
            is trained and tested per trial. Defaults to 1.
        pipeline (list): Transforms applied to every item.
        **kwargs: Passed to :class:`BaseVIReIDDataset`.

    Example:
        >>> train_dataloader = dict(
        ...     dataset=dict(
        ...         type='RegDBDataset',
        ...         data_root='data/RegDB',
        ...         split='train',
        ...         trial=1,
        ...         pipeline=train_pipeline))
    """

    METAINFO = dict(dataset_name='RegDB')
    LAYOUT = ('RegDB layout: Visible/, Thermal/ and idx/{train,test}_'
              '{visible,thermal}_{t}.txt with "<relative path> <label>" lines')
    TRIALS = tuple(range(1, 11))
    #: ``camid`` and index-file word of each modality.
    CAMERAS = {RGB: (1, 'visible'), IR: (2, 'thermal')}
    #: Image folder of each modality under ``data_root``.
    IMG_FOLDERS = {RGB: 'Visible', IR: 'Thermal'}
    #: Index file of a split, modality word and trial, under ``data_root``.
    INDEX_FILE = 'idx/{split}_{word}_{trial}.txt'

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 trial: int = 1,
                 **kwargs):
        if trial not in self.TRIALS:
            raise ValueError(f'{type(self).__name__}: trial must be one of '
                             f'1..10, got {trial!r}')
        self.trial = trial
        super().__init__(data_root=data_root, split=split, **kwargs)
        self._metainfo['trial'] = trial

    def load_data_list(self) -> List[dict]:
        """Read the trial's two index files of the split.

        Returns:
            list[dict]: One dict per image (see :class:`BaseVIReIDDataset`).
        """
        for folder in self.IMG_FOLDERS.values():
            self._require(osp.join(self.data_root, folder), 'image folder')
        img_paths, pids, camids, modalities = [], [], [], []
        for modality, (camid, word) in self.CAMERAS.items():
            index_file = osp.join(
                self.data_root,
                self.INDEX_FILE.format(
                    split=self.split, word=word, trial=self.trial))
            paths, labels = self._read_index_file(index_file)
            img_paths += paths
            pids.append(labels)
            camids.append(np.full(len(paths), camid))
            modalities.append(np.full(len(paths), modality))
        both = np.ones(len(img_paths), dtype=bool)
        return self._build_data_list(
            img_paths,
            np.concatenate(pids),
            np.concatenate(camids),
            np.concatenate(modalities),
            is_query=both,
            is_gallery=both)
