"""Several augmented views of an item, by the pipelines of its modality."""
import copy
from typing import Dict, List, Optional, Sequence, Union

from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose

from mmvireid.registry import TRANSFORMS
from mmvireid.structures import MODALITY_NAMES, parse_modality


@TRANSFORMS.register_module()
class ModalityViews(BaseTransform):
    """Run the item through the view pipelines of its modality.

    ADCA and PGM put two views of every RGB image in a batch, the image and
    its channel-exchanged copy, and one view of every IR image
    (yangbincv/ADCA ``adca_sysu_train.py`` L411–440 and
    ``clustercontrast/utils/data/preprocessor.py`` ``Preprocessor_color``;
    zesenwu23/USL-VI-ReID ``train_sysu.py`` L407–439). Each pipeline of
    ``views[modality]`` runs on its own copy of the item (independent
    random crops, flips, erasing) and must end with
    :class:`PackVIReIDInputs`. One pipeline gives the packed item as it is;
    several give ``inputs`` and ``data_samples`` as lists, one entry per
    view, which ``multi_view_collate`` (the loader's ``collate_fn``) turns
    into one sample each. mmpretrain's ``MultiView`` gives every item the
    same views and packs them as one sample; here the views depend on the
    modality and each is a sample of the batch with its own data sample.

    **Required Keys:** ``modality`` and what the pipelines read.

    **Added Keys:** ``inputs``, ``data_samples`` (lists with several
    views).

    Args:
        views (dict): For each modality (``'rgb'`` / ``'ir'`` or the codes
            0 / 1), the list of its view pipelines, each a list of transform
            configs.

    Example:
        >>> view = [dict(type='Resize', scale=(144, 288), keep_ratio=False),
        ...         dict(type='RandomFlip', prob=0.5)]
        >>> train_pipeline = [
        ...     dict(type='LoadVIReIDImage'),
        ...     dict(type='ModalityViews', views=dict(
        ...         rgb=[view + [dict(type='PackVIReIDInputs')],
        ...              view + [dict(type='ChannelExchange', gray=2),
        ...                      dict(type='PackVIReIDInputs')]],
        ...         ir=[view + [dict(type='PackVIReIDInputs')]])),
        ... ]
        >>> train_dataloader = dict(
        ...     collate_fn=dict(type='mmvireid.multi_view_collate'), ...)
    """

    def __init__(self, views: Dict[Union[int, str], Sequence[list]]) -> None:
        if not isinstance(views, dict) or not views:
            raise ValueError('ModalityViews: views must be a dict of view '
                             'pipelines per modality, e.g. dict(rgb=[...], '
                             f'ir=[...]), got {views!r}')
        self.views: Dict[int, List[Compose]] = {}
        for key, pipelines in views.items():
            modality = parse_modality(key, 'ModalityViews: a key of views')
            if not isinstance(pipelines, (list, tuple)) or not pipelines \
                    or not all(isinstance(p, (list, tuple))
                               for p in pipelines):
                raise ValueError(
                    f'ModalityViews: views[{key!r}] must be a non-empty '
                    'list of pipelines (lists of transform configs), got '
                    f'{pipelines!r}')
            self.views[modality] = [
                Compose([
                    TRANSFORMS.build(t) if isinstance(t, dict) else t
                    for t in pipeline
                ]) for pipeline in pipelines
            ]

    def transform(self, results: dict) -> Optional[dict]:
        """Run every view pipeline of the item's modality on a copy of it.

        Args:
            results (dict): The loaded item, with ``modality``.

        Returns:
            dict | None: The packed item (one view) or ``inputs`` and
            ``data_samples`` lists (several); None when a pipeline drops the
            item.
        """
        modality = parse_modality(
            results.get('modality'),
            f"ModalityViews: item {results.get('img_path')!r}: modality")
        if modality not in self.views:
            raise KeyError(
                f"ModalityViews: item {results.get('img_path')!r} is "
                f'{MODALITY_NAMES[modality]} and views has pipelines for '
                f'{[MODALITY_NAMES[m] for m in self.views]} only')
        outputs = []
        for pipeline in self.views[modality]:
            packed = pipeline(copy.deepcopy(results))
            if packed is None:
                return None
            if 'inputs' not in packed or 'data_samples' not in packed:
                raise KeyError('ModalityViews: every view pipeline must end '
                               'with PackVIReIDInputs')
            outputs.append(packed)
        if len(outputs) == 1:
            return outputs[0]
        return dict(inputs=[view['inputs'] for view in outputs],
                    data_samples=[view['data_samples'] for view in outputs])

    def __repr__(self) -> str:
        views = {MODALITY_NAMES[m]: p for m, p in self.views.items()}
        return f'{type(self).__name__}(views={views})'
