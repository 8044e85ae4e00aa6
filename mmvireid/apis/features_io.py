"""The feature file: features and labels of one split in one ``.npz``.

Written by ``tools/analysis_tools/extract_features.py`` and read by
``visualize_retrieval.py``, ``vis_tsne.py`` and users' own analyses
(``np.load(path)``; no pickled objects, so ``allow_pickle`` stays False).

Arrays (N items of the split, in the data loader's order):

- ``features``: (N, D) float32, the model's test feature (L2-normalised by
  :class:`VIReID` ``predict``).
- ``pid``, ``camid``, ``modality``: (N,) int64 (``modality``: 0 RGB, 1 IR).
- ``img_path``: (N,) str, the image paths the dataset gave.
- ``is_query``, ``is_gallery``: (N,) bool, test split only.
- ``meta``: a 0-d str array holding a JSON dict: ``split``,
  ``dataset_name``, ``data_root``, the test evaluator's ``protocol``,
  ``settings`` and ``num_trials`` (None when unknown), ``config`` and
  ``checkpoint``.
"""
import json
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np

#: Arrays every feature file holds.
REQUIRED_KEYS = ('features', 'pid', 'camid', 'modality', 'img_path', 'meta')
#: Arrays of test-split feature files.
TEST_KEYS = ('is_query', 'is_gallery')


def save_features(path: str,
                  features,
                  pid,
                  camid,
                  modality,
                  img_path,
                  is_query=None,
                  is_gallery=None,
                  meta: Optional[dict] = None) -> str:
    """Write a feature file.

    Args:
        path (str): Output ``.npz`` path; missing folders are created.
        features (array-like): Features, shape (N, D).
        pid, camid, modality (array-like): Integer labels, shape (N,).
        img_path (Sequence[str]): Image paths, length N.
        is_query, is_gallery (array-like, optional): Flags of a test split,
            shape (N,); give both or neither.
        meta (dict, optional): JSON-serialisable description (see the module
            docstring). Defaults to None (an empty dict).

    Returns:
        str: ``path``.

    Example:
        >>> save_features('work_dirs/x/features_test.npz', feats, pid, camid,
        ...               modality, img_path, is_query, is_gallery,
        ...               meta=dict(split='test', protocol='sysu'))
    """
    if not str(path).endswith('.npz'):
        raise ValueError(f'save_features: path must end with .npz, got '
                         f'{path!r}')
    arrays = dict(features=np.asarray(features, dtype=np.float32),
                  pid=np.asarray(pid, dtype=np.int64),
                  camid=np.asarray(camid, dtype=np.int64),
                  modality=np.asarray(modality, dtype=np.int64),
                  img_path=np.asarray(img_path, dtype=str))
    if (is_query is None) != (is_gallery is None):
        raise ValueError('save_features: give both is_query and is_gallery '
                         '(a test split) or neither (a train split)')
    if is_query is not None:
        arrays['is_query'] = np.asarray(is_query, dtype=bool)
        arrays['is_gallery'] = np.asarray(is_gallery, dtype=bool)
    _check_arrays(arrays, f'save_features({path!r})')
    arrays['meta'] = np.asarray(json.dumps(meta or {}))
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    np.savez(path, **arrays)
    return path


def load_features(path: str) -> Dict[str, np.ndarray]:
    """Read and check a feature file.

    Args:
        path (str): A ``.npz`` written by :func:`save_features`.

    Returns:
        dict: The arrays of the module docstring, ``meta`` decoded to a dict.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If it is not a feature file (not an npz, missing arrays,
            shapes that disagree, non-finite features, N = 0).

    Example:
        >>> data = load_features('work_dirs/x/features_test.npz')
        >>> data['features'].shape, data['meta']['split']
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'feature file {path!r} does not exist; write one with '
            'tools/analysis_tools/extract_features.py')
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as error:
        raise ValueError(f'feature file {path!r} is not a readable .npz '
                         f'without pickled objects: {error}') from error
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f'feature file {path!r} lacks the arrays {missing} (it has '
            f'{sorted(arrays)}); expected the format of '
            'mmvireid.apis.features_io')
    where = f'feature file {path!r}'
    try:
        arrays['meta'] = json.loads(str(arrays['meta']))
    except json.JSONDecodeError as error:
        raise ValueError(f'{where}: meta is not a JSON string: '
                         f'{error}') from error
    _check_arrays(arrays, where)
    return arrays


def _check_arrays(arrays: Dict[str, np.ndarray], where: str) -> None:
    """Shapes and values of the feature-file arrays (``meta`` excluded)."""
    features = arrays['features']
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f'{where}: features must be a non-empty (N, D) '
                         f'array, got shape {features.shape}')
    if not np.isfinite(features).all():
        raise ValueError(f'{where}: features hold NaN or inf values')
    num = features.shape[0]
    for key in ('pid', 'camid', 'modality', 'img_path') + TEST_KEYS:
        if key in arrays and arrays[key].shape != (num, ):
            raise ValueError(f'{where}: {key} must have shape ({num},) like '
                             f'features, got {arrays[key].shape}')
    present = [key for key in TEST_KEYS if key in arrays]
    if len(present) == 1:
        raise ValueError(f'{where}: has {present[0]} without its pair; a '
                         'test split has both is_query and is_gallery')
