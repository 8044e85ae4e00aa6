"""Ranked lists of a few queries at every validation."""
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmvireid.evaluation import VIReIDMetric
from mmvireid.registry import HOOKS
from mmvireid.structures import MODALITY_NAMES
from mmvireid.visualization import VIReIDVisualizer, stack_rows


@HOOKS.register_module()
class VIReIDVisualizationHook(Hook):
    """Draw the ranked lists of a few queries after every validation.

    The ReID counterpart of mmpretrain's ``VisualizationHook`` (which draws
    classification pictures): after each validation, for every
    :class:`VIReIDMetric` of the validation evaluator, one picture of
    ``num_queries`` queries of a setting (trial 0), each with its top
    ``topk`` gallery images framed green (same id) or red, is drawn by
    :class:`VIReIDVisualizer` from the metric's ranked lists
    (:meth:`VIReIDMetric.ranked_lists`; the hook raises the metric's
    ``keep_topk`` to ``topk``) and handed to the runner's visualizer
    (``add_image``, name ``val_<prefix>_<setting>_ranked_lists``, step = the
    epoch), i.e. to its backends: the run's ``vis_data/vis_image`` folder
    with ``LocalVisBackend``, TensorBoard with ``TensorboardVisBackend``
    (``tools/train.py --tensorboard``). Rank 0 draws (it holds the
    evaluation's results).

    Args:
        enable (bool): Draw at all. Defaults to False.
        num_queries (int): Queries per picture, spread evenly over the
            setting's queries (the same ones every validation) or the worst
            first. Defaults to 4.
        topk (int): Gallery images per query. Defaults to 5.
        setting (str, optional): The setting to draw; None: the metric's
            first. Defaults to None.
        worst_first (bool): Draw the queries of lowest AP instead (those
            without a true match last). Defaults to False.
        img_size (tuple[int, int]): (H, W) of every thumbnail. Defaults to
            (128, 64).

    Example:
        >>> default_hooks = dict(visualization=dict(
        ...     type='VIReIDVisualizationHook', enable=True, num_queries=4,
        ...     topk=5))
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 enable: bool = False,
                 num_queries: int = 4,
                 topk: int = 5,
                 setting: Optional[str] = None,
                 worst_first: bool = False,
                 img_size: Sequence[int] = (128, 64)) -> None:
        for name, value in (('num_queries', num_queries), ('topk', topk)):
            if isinstance(value, bool) or not isinstance(value,
                                                         int) or value < 1:
                raise ValueError(f'VIReIDVisualizationHook: {name} must be an '
                                 f'int >= 1, got {value!r}')
        self.enable = enable
        self.num_queries = num_queries
        self.topk = topk
        self.setting = setting
        self.worst_first = worst_first
        self.img_size = tuple(img_size)
        self._drawer: Optional[VIReIDVisualizer] = None

    def _metrics(self, runner: Runner):
        evaluator = getattr(runner.val_loop, 'evaluator', None)
        return [
            metric for metric in getattr(evaluator, 'metrics', [])
            if isinstance(metric, VIReIDMetric)
        ]

    def before_val(self, runner: Runner) -> None:
        """Ask the metrics to keep ``topk`` gallery items per query."""
        if not self.enable:
            return
        metrics = self._metrics(runner)
        if not metrics:
            raise TypeError('VIReIDVisualizationHook: the validation '
                            'evaluator has no VIReIDMetric to draw from')
        for metric in metrics:
            if self.setting is not None and self.setting not in [
                    s['name'] for s in metric.settings
            ]:
                raise ValueError(
                    f'VIReIDVisualizationHook: setting {self.setting!r} is '
                    f'not a setting of the {metric.prefix!r} metric; choose '
                    f'one of {[s["name"] for s in metric.settings]}')
            metric.keep_topk = max(metric.keep_topk, self.topk)

    def after_val_epoch(self, runner: Runner, metrics=None) -> None:
        """Draw and store a picture per metric (rank 0)."""
        if not self.enable or runner.rank != 0:
            return
        for metric in self._metrics(runner):
            lists = [
                x for x in metric.ranked_lists()
                if x['trial'] == 0 and x['setting'] == (
                    self.setting or metric.settings[0]['name'])
            ]
            if not lists:
                continue
            picture = self.draw(lists[0], f'{metric.prefix}/')
            runner.visualizer.add_image(
                f'val_{metric.prefix}_{lists[0]["setting"]}_ranked_lists',
                picture,
                step=runner.epoch)

    def draw(self, ranked: dict, title: str = '') -> np.ndarray:
        """The picture of the chosen queries of one ranked-list dict.

        Args:
            ranked (dict): One entry of :meth:`VIReIDMetric.ranked_lists`.
            title (str): Prefix of every row's header. Defaults to ``''``.

        Returns:
            np.ndarray: RGB uint8 (H, W, 3), a row per query.
        """
        if self._drawer is None:
            self._drawer = VIReIDVisualizer(
                name=f'vireid_visualization_hook_{id(self)}',
                img_size=self.img_size)
        queries = self._choose(ranked['ap'])
        rows = []
        for q in queries.tolist():
            item = ranked['query'][q]
            kept = ranked['gallery'][q][:self.topk] >= 0
            gallery = ranked['gallery'][q][:self.topk][kept]
            valid = ranked['valid'][q]
            score = f'AP {100 * ranked["ap"][q]:.1f}%' if valid else \
                'no true match'
            rows.append(
                self._drawer.visualize_ranked_list(
                    mmcv.imread(ranked['img_path'][item],
                                channel_order='rgb'),
                    [
                        mmcv.imread(ranked['img_path'][g],
                                    channel_order='rgb') for g in gallery
                    ],
                    ranked['match'][q][:self.topk][kept],
                    ranked['distance'][q][:self.topk][kept],
                    query_text=f'pid {ranked["pid"][item]} cam '
                    f'{ranked["camid"][item]}',
                    gallery_texts=[
                        f'pid {ranked["pid"][g]} cam {ranked["camid"][g]}'
                        for g in gallery
                    ],
                    header=f'{title}{ranked["setting"]} trial '
                    f'{ranked["trial"]}: '
                    f'{MODALITY_NAMES[int(ranked["modality"][item])]} '
                    f'query {item}, {score}'))
        return stack_rows(rows)

    def _choose(self, ap: np.ndarray) -> np.ndarray:
        """Positions of the queries to draw."""
        if self.worst_first:
            return np.argsort(ap, kind='stable')[:self.num_queries]
        num = min(self.num_queries, len(ap))
        return np.linspace(0, len(ap), num, endpoint=False).astype(np.int64)
