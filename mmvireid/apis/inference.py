"""A trained model from its config, and the features of any images.

mmpretrain's ``init_model`` / ``get_model`` build every model in the
``mmpretrain`` scope (``DefaultScope.overwrite_default_scope('mmpretrain')``),
whatever the config's ``default_scope`` says: mmvireid's ``VIReID`` lives in
a child registry, which a lookup never searches (it walks up to parents
only), so they fail with ``KeyError: 'VIReID is not in the mmpretrain::model
registry'``. Their inferencers (``ImageRetrievalInferencer``,
``FeatureExtractor``) also give images no modality, which a two-stream model
needs for each image. The functions here build in the config's scope and
take a modality per image.
"""
import copy
import os
import os.path as osp
from numbers import Integral
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmvireid.registry import MODELS
from mmvireid.structures import parse_modality
from .feature_extraction import extract_features
from .model import load_weights

ImageType = Union[str, np.ndarray]
#: Transforms of a test pipeline that read the image file; an image given
#: as an array skips them.
LOADING_TRANSFORMS = ('LoadVIReIDImage', 'LoadImageFromFile')


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the model of a config, load its weights, ready to run.

    The model is built as ``tools/test.py`` builds it: in the config's
    ``default_scope`` (``'mmvireid'`` when it has none), with the config's
    top-level ``data_preprocessor`` (MMEngine's Runner hands it over the
    same way). The checkpoint is loaded by :func:`load_weights`: through the
    checkpoint policy (``weights_only`` loading with an allow-list) and
    refusing any missing or mis-shaped weight. Without a checkpoint the
    weights stay as built (no ``init_cfg`` is applied: nothing is
    downloaded). The config is kept as ``model.cfg`` for
    :func:`inference_model`; the model is returned in eval mode on
    ``device``.

    Args:
        config (str | Config): Config file path or config.
        checkpoint (str, optional): Checkpoint path (or URL). Defaults to
            None.
        device (str | torch.device): Device of the model. Defaults to
            ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config
            (``--cfg-options`` of the tools, e.g.
            ``{'model.flip_test': False}``). Defaults to None.

    Returns:
        nn.Module: The model, with ``cfg``.

    Raises:
        FileNotFoundError: If ``config`` or a local ``checkpoint`` is not a
            file.
        ValueError: If the config has no ``model`` or the checkpoint does not
            match it.

    Example:
        >>> from mmvireid.apis import init_model, inference_model
        >>> model = init_model('configs/agw/agw_r50_sysu.py',
        ...                    'work_dirs/agw_r50_sysu/epoch_80.pth',
        ...                    device='cuda:0')
    """
    if isinstance(config, (str, os.PathLike)):
        if not osp.isfile(config):
            raise FileNotFoundError(f'init_model: config {str(config)!r}: no '
                                    'such file')
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise TypeError('init_model: config must be a file path or an '
                        f'mmengine Config, got {type(config).__name__}')
    cfg = copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if not cfg.get('model'):
        raise ValueError(f'init_model: config {cfg.filename!r} has no model')
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(_scope(cfg)):
        model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_weights(model, checkpoint, cfg.filename)
    model.cfg = cfg
    return model.to(device).eval()


def inference_model(model: nn.Module,
                    images: Union[ImageType, Sequence[ImageType]],
                    modality: Union[int, str, Sequence[Union[int, str]]],
                    batch_size: int = 32,
                    pipeline: Optional[List[dict]] = None) -> torch.Tensor:
    """The features of images, as the test protocol computes them.

    Every image goes through the config's test pipeline
    (``test_dataloader.dataset.pipeline``: loading, resizing, packing), the
    data preprocessor (normalisation) and the model's ``predict``: the
    retrieval feature of the image and of its horizontal flip, averaged and
    L2-normalised (as ``tools/test.py`` evaluates, unless the model sets
    ``flip_test=False``). Runs in this process alone, on the model's device,
    without gradients; the model is left in eval mode.

    Args:
        model (nn.Module): A model of :func:`init_model` (or any model with
            ``test_step`` setting a ``feature`` and a ``cfg``, or given a
            ``pipeline``).
        images (str | np.ndarray | Sequence[str | np.ndarray]): Image file
            paths, or images as arrays in the layout mmcv reads them: (H, W,
            3) uint8 **BGR** (``cv2.imread`` / ``mmcv.imread``), or (H, W)
            single-channel (an infrared image), repeated to 3 channels.
        modality (int | str | Sequence[int | str]): The modality of every
            image, or one for all: ``'rgb'`` / ``0`` (also ``'visible'``) or
            ``'ir'`` / ``1`` (also ``'infrared'``, ``'thermal'``,
            ``'nir'``), as :func:`mmvireid.structures.parse_modality` reads
            it. A two-stream model routes each image to its stream by it.
        batch_size (int): Images per forward pass. Defaults to 32.
        pipeline (list[dict], optional): Test pipeline to use instead of the
            config's. Defaults to None.

    Returns:
        torch.Tensor: (N, D) float32 L2-normalised features, row ``i`` of
        image ``i``, on the model's device.

    Raises:
        FileNotFoundError: If a path is not a file.
        ValueError: On a bad modality, a modality count other than N, an
            array of another shape, or no image.

    Example:
        >>> model = init_model(config, checkpoint)
        >>> query = inference_model(model, ['q1.jpg', 'q2.jpg'], 'ir')
        >>> gallery = inference_model(model, gallery_paths, 'rgb')
        >>> distances = 1 - query @ gallery.T  # (2, G), as the metric ranks
    """
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, int) or batch_size < 1:
        raise ValueError(f'inference_model: batch_size must be an int >= 1, '
                         f'got {batch_size!r}')
    loader = DataLoader(_items(model, images, modality, pipeline),
                        batch_size=batch_size,
                        collate_fn=pseudo_collate)
    return extract_features(model, loader, description=None,
                            gather=False)['features']


def prepare_batch(model: nn.Module,
                  images: Union[ImageType, Sequence[ImageType]],
                  modality: Union[int, str, Sequence[Union[int, str]]],
                  pipeline: Optional[List[dict]] = None) -> dict:
    """One batch of images as the model takes it.

    The images through the test pipeline and the model's data preprocessor,
    as :func:`inference_model` feeds them, for code that calls the model's
    parts itself (e.g. :func:`mmvireid.visualization.grad_cam`).

    Args:
        model, images, modality, pipeline: As :func:`inference_model`.

    Returns:
        dict: ``inputs`` (N, 3, H, W) float (normalised), ``modality`` (N,)
        long and ``data_samples``, on the model's device.

    Example:
        >>> batch = prepare_batch(model, 'query.jpg', 'ir')
        >>> feats = model.extract_feat(batch['inputs'], batch['modality'])
    """
    items = _items(model, images, modality, pipeline)
    return model.data_preprocessor(
        pseudo_collate([items[i] for i in range(len(items))]), False)


def _items(model: nn.Module, images, modality,
           pipeline: Optional[List[dict]]) -> '_ImageItems':
    """The checked images as a dataset of test items."""
    images = _image_list(images)
    modalities = _modality_list(modality, len(images))
    cfg = getattr(model, 'cfg', None)
    if pipeline is None:
        pipeline = None if cfg is None else cfg.get(
            'test_dataloader', {}).get('dataset', {}).get('pipeline')
        if pipeline is None:
            raise ValueError(
                'inference_model: the model has no config with a test '
                'pipeline (test_dataloader.dataset.pipeline); build it with '
                'mmvireid.apis.init_model or pass pipeline=')
    return _ImageItems(images, modalities, pipeline, _scope(cfg))


class _ImageItems(Dataset):
    """The images as test items: ``sample_idx``, ``modality`` and the image
    path (loaded by the pipeline) or array (given as ``img``, the loading
    transforms skipped)."""

    def __init__(self, images: List[ImageType], modalities: List[int],
                 pipeline: List[dict], scope: str) -> None:
        with DefaultScope.overwrite_default_scope(scope):
            self.load_pipeline = Compose(pipeline)
            self.array_pipeline = Compose([
                t for t in pipeline
                if not (isinstance(t, dict)
                        and str(t.get('type')).split('.')[-1]
                        in LOADING_TRANSFORMS)
            ])
        self.images = images
        self.modalities = modalities

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        image = self.images[index]
        item = dict(sample_idx=index, modality=self.modalities[index])
        if isinstance(image, str):
            return self.load_pipeline(dict(item, img_path=image))
        return self.array_pipeline(
            dict(item, img=image, img_shape=image.shape[:2],
                 ori_shape=image.shape[:2]))


def _scope(cfg: Optional[Config]) -> str:
    """The registry scope a config builds in: its ``default_scope``, else
    ``'mmvireid'``."""
    return (cfg.get('default_scope') if cfg is not None else None) \
        or 'mmvireid'


def _image_list(images) -> List[ImageType]:
    """The images as a checked list of paths and (H, W, 3) uint8 arrays."""
    if isinstance(images, (str, os.PathLike, np.ndarray)):
        images = [images]
    images = list(images)
    if not images:
        raise ValueError('inference_model: no image given')
    checked = []
    for i, image in enumerate(images):
        if isinstance(image, os.PathLike):
            image = os.fspath(image)
        if isinstance(image, str):
            if not osp.isfile(image):
                what = 'a folder (give its image files)' if osp.isdir(
                    image) else 'no such file'
                raise FileNotFoundError(
                    f'inference_model: image {i} {image!r}: {what}')
        elif isinstance(image, np.ndarray):
            if image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=2)
            if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
                raise ValueError(
                    f'inference_model: image {i} must be an (H, W, 3) BGR or '
                    f'(H, W) array, got shape {image.shape}')
        else:
            raise TypeError(f'inference_model: image {i} must be a path or a '
                            f'numpy array, got {type(image).__name__}')
        checked.append(image)
    return checked


def _modality_list(modality, num: int) -> List[int]:
    """One modality code per image."""
    if isinstance(modality, (np.ndarray, torch.Tensor)):
        modality = modality.tolist()
    if isinstance(modality, (str, Integral)):
        return [parse_modality(modality, 'inference_model: modality')] * num
    modality = list(modality)
    if len(modality) != num:
        raise ValueError(
            f'inference_model: give one modality for all images or one per '
            f'image: got {len(modality)} modalities for {num} images')
    return [
        parse_modality(value, f'inference_model: modality of image {i}')
        for i, value in enumerate(modality)
    ]
