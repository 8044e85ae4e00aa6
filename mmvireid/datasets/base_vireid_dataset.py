"""Common base of the visible-infrared ReID datasets."""
import copy
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset, Compose


class BaseVIReIDDataset(BaseDataset):
    """Base class of the VI-ReID datasets.

    A subclass reads one official on-disk layout in :meth:`load_data_list` and
    returns one dict per image with the fields:

    - ``img_path`` (str): absolute path of the image.
    - ``pid`` (int): person id. Training splits relabel ids to ``0..C-1`` in
      sorted order of the official ids; test splits keep the official ids.
    - ``camid`` (int): the official camera number.
    - ``modality`` (int): :data:`mmvireid.structures.RGB` (0) or
      :data:`mmvireid.structures.IR` (1).
    - test split only: ``is_query`` / ``is_gallery`` (bool), whether the image
      is a query or a gallery candidate in at least one evaluation direction
      of the dataset's protocol.

    ``metainfo`` holds the class's ``METAINFO`` (``dataset_name``) and the
    ``split``.

    Unsupervised training adds a ``pseudo_label`` (int, ``-1`` = outlier) to
    every item once :meth:`set_pseudo_labels` has been called (by the
    clustering hook, every epoch).

    The helpers below (``_require``, ``_read_id_list``, ``_read_index_file``,
    ``_list_images``, ``_build_data_list``) read the pieces the official
    layouts share and raise errors naming the file, the line and the
    expected layout (:attr:`LAYOUT`).

    Args:
        data_root (str): Root folder of the dataset in its official layout.
        split (str): ``'train'`` or ``'test'``.
        pipeline (list): Transforms applied to every item.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    SPLITS = ('train', 'test')
    #: One-line description of the expected on-disk tree, quoted in errors.
    LAYOUT = ''
    #: File suffixes listed as images when a loader scans a folder.
    IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
    #: Folder of an id under a camera folder (:meth:`_list_pid_images`).
    PID_FOLDER = '{:04d}'

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 pipeline: Optional[list] = None,
                 **kwargs):
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of '
                             f'{self.SPLITS}, got {split!r}')
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'{type(self).__name__}: data_root {data_root!r} is not a '
                f'folder; expected the {self.LAYOUT} (see '
                'docs/en/dataset_prepare.md)')
        self.split = split
        self._pseudo_labels: Optional[np.ndarray] = None
        super().__init__(
            data_root=osp.abspath(data_root),
            pipeline=pipeline or [],
            test_mode=split == 'test',
            **kwargs)
        # Set here, not through ``metainfo=``: MMEngine tries to read every
        # string given there as a file name.
        self._metainfo['split'] = split

    def _field(self, key: str) -> np.ndarray:
        """``key`` of every item, (N,): read from the items once (each read
        unpickles an item: 0.1 s per field at SYSU-MM01's 34k images), then
        served from a cache that every subset drops; returns a copy."""
        cache = self.__dict__.setdefault('_field_cache', {})
        if key not in cache:
            cache[key] = np.array(
                [self.get_data_info(i)[key] for i in range(len(self))])
        return cache[key].copy()

    @property
    def pids(self) -> np.ndarray:
        """np.ndarray: ``pid`` of every item, shape (N,)."""
        return self._field('pid')

    @property
    def camids(self) -> np.ndarray:
        """np.ndarray: ``camid`` of every item, shape (N,)."""
        return self._field('camid')

    @property
    def modalities(self) -> np.ndarray:
        """np.ndarray: ``modality`` of every item, shape (N,)."""
        return self._field('modality')

    @property
    def pseudo_labels(self) -> Optional[np.ndarray]:
        """np.ndarray | None: ``pseudo_label`` of every item, shape (N,),
        int64; None before :meth:`set_pseudo_labels`."""
        return self._pseudo_labels

    def set_pseudo_labels(self, labels) -> None:
        """Give every item a ``pseudo_label``, or remove them (``None``).

        The labels live in one array next to MMEngine's serialized data list
        (which stays untouched) and :meth:`get_data_info` adds them to the
        items. Data-loader workers hold a copy of the dataset, and persistent
        ones keep it across epochs: restart the loader's iterator after
        relabelling (as :class:`ClusteringHook` does).

        Args:
            labels (array-like | None): Integer labels of shape (N,), ``-1``
                for outliers; the label spaces are the caller's (one per
                modality for :class:`ClusteringHook`, which takes them from
                the model's :class:`CrossModalMemory`).
        """
        if labels is None:
            self._pseudo_labels = None
            return
        labels = np.asarray(labels)
        if labels.shape != (len(self), ) or not np.issubdtype(
                labels.dtype, np.integer) or (labels < -1).any():
            raise ValueError(
                f'{type(self).__name__}.set_pseudo_labels: expected '
                f'{len(self)} integer labels >= -1 (one per item), got an '
                f'array of shape {labels.shape} and dtype {labels.dtype}'
                + (f' with minimum {labels.min()}' if labels.size
                   and np.issubdtype(labels.dtype, np.number) else ''))
        self._pseudo_labels = labels.astype(np.int64)

    def with_pipeline(self, pipeline: Sequence[dict]) -> 'BaseVIReIDDataset':
        """A shallow copy reading the same items through ``pipeline``.

        Nothing is read from disk again (the copy shares the serialized data
        list), e.g. the training set with the test pipeline, which
        :class:`ClusteringHook` extracts.

        Args:
            pipeline (Sequence[dict]): Transform configs, built in the
                current default scope.

        Returns:
            BaseVIReIDDataset: The copy.
        """
        view = copy.copy(self)
        view.pipeline = Compose(pipeline)
        return view

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """MMEngine's in-place subset, keeping each item's pseudo-label."""
        labels = self._subset_pseudo_labels(indices)
        super().get_subset_(indices)
        self._pseudo_labels = labels
        self._field_cache = {}

    def get_subset(self, indices: Union[Sequence[int], int]
                   ) -> 'BaseVIReIDDataset':
        """MMEngine's subset, keeping each item's pseudo-label (MMEngine
        would copy the whole label array to the subset)."""
        subset = super().get_subset(indices)
        subset._pseudo_labels = self._subset_pseudo_labels(indices)
        subset._field_cache = {}
        return subset

    def _subset_pseudo_labels(self, indices: Union[Sequence[int], int]
                              ) -> Optional[np.ndarray]:
        """The pseudo-labels of MMEngine's subset ``indices``: an int keeps
        the first (>= 0) or last (< 0) items, a sequence those items."""
        if self._pseudo_labels is None:
            return None
        if isinstance(indices, int):
            return (self._pseudo_labels[:indices] if indices >= 0 else
                    self._pseudo_labels[indices:]).copy()
        return self._pseudo_labels[np.asarray(indices, dtype=np.int64)]

    def get_data_info(self, idx: int) -> dict:
        """The item ``idx``, with its ``pseudo_label`` when set."""
        data_info = super().get_data_info(idx)
        if self._pseudo_labels is not None:
            data_info['pseudo_label'] = int(self._pseudo_labels[idx])
        return data_info

    @property
    def num_pids(self) -> int:
        """int: number of distinct ``pid`` in the split."""
        return len(np.unique(self.pids))

    def load_data_list(self) -> List[dict]:
        raise NotImplementedError

    # ----------------------------------------------------------- helpers --
    def _require(self, path: str, what: str) -> str:
        """Return ``path`` if it exists, else raise a FileNotFoundError.

        Args:
            path (str): A file or folder of the layout.
            what (str): What it is, e.g. ``'id list'`` or ``'camera folder'``.
        """
        if not osp.exists(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: missing {what} {path!r}; expected '
                f'the {self.LAYOUT}')
        return path

    def _read_id_list(self, path: str) -> List[int]:
        """Read a one-line file of comma-separated integer ids (``1,2,4``)."""
        self._require(path, 'id list')
        with open(path) as f:
            text = f.read().strip()
        tokens = [t.strip() for t in text.split(',')]
        if not text or not all(t.isdigit() for t in tokens):
            raise ValueError(
                f'{type(self).__name__}: {path!r} must hold one line of '
                f'comma-separated integer ids such as "1,2,4,5,7", got '
                f'{text[:80]!r}')
        return [int(t) for t in tokens]

    def _read_index_file(self, path: str) -> Tuple[List[str], np.ndarray]:
        """Read an index file of ``<relative path> <label>`` lines.

        Blank lines are skipped. Every listed image must exist.

        Args:
            path (str): The index file.

        Returns:
            tuple: ``(img_paths, labels)``; absolute image paths (list of N
            str) and the file's labels (np.ndarray, shape (N,), int64).
        """
        self._require(path, 'index file')
        with open(path) as f:
            lines = f.read().splitlines()
        img_paths, labels = [], []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError(
                    f'{type(self).__name__}: {path!r} line {lineno}: '
                    f'{line!r} is not of the form "<relative path> <label>" '
                    '(e.g. "Visible/100/male_back_v_06418_1.bmp 0")')
            img_path = osp.join(self.data_root, parts[0])
            if not osp.isfile(img_path):
                raise FileNotFoundError(
                    f'{type(self).__name__}: {path!r} line {lineno} lists '
                    f'{parts[0]!r}, but image {img_path!r} does not exist')
            img_paths.append(img_path)
            labels.append(int(parts[1]))
        return img_paths, np.asarray(labels, dtype=np.int64)

    def _list_images(self, folder: str) -> List[str]:
        """Sorted absolute paths of the image files directly in ``folder``."""
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.is_file()
                           and e.name.lower().endswith(self.IMG_EXTENSIONS))
        return [osp.join(folder, n) for n in names]

    def _list_pid_images(self, cam_dir: str, pids: Sequence[int]
                         ) -> Tuple[List[str], np.ndarray]:
        """Images of ``cam_dir/<pid:04d>/`` (:attr:`PID_FOLDER`) for the
        given ids.

        An id without a folder in this camera is skipped: not every id is
        seen by every camera.

        Returns:
            tuple: ``(img_paths, pids)``, a list of N str and an int64
            np.ndarray of shape (N,), in sorted path order.
        """
        with os.scandir(cam_dir) as entries:
            present = {e.name for e in entries if e.is_dir()}
        img_paths, img_pids = [], []
        for pid in sorted(pids):
            name = self.PID_FOLDER.format(pid)
            if name in present:
                files = self._list_images(osp.join(cam_dir, name))
                img_paths += files
                img_pids += [pid] * len(files)
        return img_paths, np.asarray(img_pids, dtype=np.int64)

    def _build_data_list(self,
                         img_paths: Sequence[str],
                         pids: np.ndarray,
                         camids: np.ndarray,
                         modalities: np.ndarray,
                         is_query: Optional[np.ndarray] = None,
                         is_gallery: Optional[np.ndarray] = None
                         ) -> List[dict]:
        """Turn per-image arrays (each of shape (N,)) into the data list.

        On the train split the ids are relabelled to ``0..C-1`` in sorted
        order of the official ids. On the test split ``is_query`` and
        ``is_gallery`` are required.

        Raises:
            ValueError: if the split has no image.
        """
        if len(img_paths) == 0:
            raise ValueError(
                f'{type(self).__name__}: split {self.split!r} of '
                f'{self.data_root!r} has no image; expected the '
                f'{self.LAYOUT}')
        pids = np.asarray(pids)
        if self.split == 'train':
            pids = np.unique(pids, return_inverse=True)[1].reshape(-1)
        fields = dict(
            pid=pids.tolist(),
            camid=np.asarray(camids).tolist(),
            modality=np.asarray(modalities).tolist())
        if self.split == 'test':
            fields['is_query'] = np.asarray(is_query, dtype=bool).tolist()
            fields['is_gallery'] = np.asarray(is_gallery, dtype=bool).tolist()
        keys = list(fields)
        return [
            dict(img_path=path, **dict(zip(keys, values)))
            for path, *values in zip(img_paths, *fields.values())
        ]
