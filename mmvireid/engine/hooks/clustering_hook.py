"""Pseudo-labels for unsupervised VI-ReID, recomputed before epochs."""
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine import dist
from mmengine.fileio import dump
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.utils import get_ori_model

from mmvireid.apis import extract_features
from mmvireid.apis.feature_extraction import FLIP_FUSIONS
from mmvireid.clustering import (check_clustering_args, concat_pseudo_labels,
                                 cross_modal_pseudo_labels)
from mmvireid.datasets import BaseVIReIDDataset, VIReIDConcatDataset
from mmvireid.models.memories import CrossModalMemory
from mmvireid.registry import HOOKS
from mmvireid.structures import IR, MODALITY_NAMES, RGB
from mmvireid.visualization.clustering_plot import plot_clustering_history


@HOOKS.register_module()
class ClusteringHook(Hook):
    """Re-cluster the training set before every ``interval``-th epoch.

    The hook owns the timing; each step is a function or a module:

    1. :func:`mmvireid.apis.extract_features`: the flip-averaged,
       L2-normalised test feature of every training image (``pipeline``, no
       augmentation), in dataset order, on every rank; or, with
       ``flip_fusion='mean_of_normalized'``, the mean of the L2-normalised
       features of the image and its flip, not renormalised (ADCA / PGM).
    2. :func:`mmvireid.clustering.cross_modal_pseudo_labels` on rank 0:
       k-reciprocal Jaccard distance + DBSCAN per modality (-1 = outlier),
       the ``association`` of the RGB and IR clusters, statistics.
    3. :meth:`CrossModalMemory.reset` of the model's memory (the memory of
       :class:`MemoryContrastHead`): rank 0's clustering reaches every rank
       there, and the memories are rebuilt, identical on every rank.
    4. The training set is relabelled from the memory's ``pseudo_labels``
       (:meth:`BaseVIReIDDataset.set_pseudo_labels`; RGB and IR items in
       separate label spaces) and the train loader's iterator restarted, so
       that persistent workers, which hold a copy of the dataset, see them.
    5. Rank 0 logs clusters and outliers per modality, matched pairs, the
       seconds of extraction (``time_extract``) and clustering
       (``time_cluster``) and, since the training set has true ``pid``s,
       the adjusted Rand indices of :func:`clustering_ari` (a diagnostic,
       never used for training), to ``runner.logger`` and, as
       ``clustering/<name>`` at the current iteration, to the visualizer's
       backends. A modality in which no cluster forms logs a warning;
       training goes on with what it has.

    A :class:`VIReIDConcatDataset` is clustered part by part (the datasets
    share no person) and the parts' results joined in disjoint label spaces
    (:func:`concat_pseudo_labels`).

    Its priority (``ABOVE_NORMAL``) runs it before :class:`IterTimerHook`
    starts the epoch's clock: extraction and clustering are not charged to
    the first iteration's ``data_time`` nor to the ETA.

    After training, rank 0 plots the statistics of every clustering against
    the epoch (:func:`plot_clustering_history`) to
    ``<log_dir>/clustering_stats.png`` and writes them to
    ``<log_dir>/clustering_stats.json``.

    Resume: the pseudo-labels, the association and the memories are buffers
    of the model and come back with its state dict; ``before_train``
    relabels the training set from them, so a resumed run continues with
    the labels and memories an uninterrupted run would have, whether or not
    its first epoch re-clusters. The statistics history is saved in the
    checkpoint (``checkpoint['clustering']['history']``, plain numbers).

    Args:
        pipeline (list[dict]): Test pipeline of the extraction (load,
            resize, pack).
        k1 (int): k-reciprocal neighbourhood size, >= 1. Defaults to 30.
        k2 (int): Query-expansion size, >= 1. Defaults to 6.
        eps (float): DBSCAN radius, in (0, 1). Defaults to 0.6 (SYSU-MM01;
            0.3 RegDB).
        min_samples (int): DBSCAN core size, >= 1. Defaults to 4.
        interval (int): Cluster every ``interval`` epochs, >= 1.
            Defaults to 1.
        knn_backend (str): Backend of the exact kNN (``'auto'``, ``'faiss'``
            or ``'torch'``). Defaults to ``'auto'``.
        association (str | dict): How RGB and IR clusters are associated:
            ``'hungarian'`` (ours, one-to-one), ``'pgm'`` (PGM's progressive
            graph matching; ``dict(type='pgm', symmetric=True)`` as its
            RegDB code) or ``'adca'`` (ADCA's instance votes), see
            :func:`cross_modal_pseudo_labels`. Defaults to ``'hungarian'``.
        flip_fusion (str, optional): None clusters the model's test feature
            (mean of the raw features of the image and its flip, then
            L2-normalised); ``'mean_of_normalized'`` the mean of the
            L2-normalised features, not renormalised (ADCA / PGM). Defaults
            to None.
        dataloader (dict): Extra arguments of the extraction loader (e.g.
            ``batch_size``, ``num_workers``); its sampler is MMEngine's
            ``DefaultSampler`` without shuffling. Defaults to batch size 64,
            2 workers.

    Example:
        >>> custom_hooks = [
        ...     dict(type='ClusteringHook', pipeline=test_pipeline, k1=30,
        ...          k2=6, eps=0.6, min_samples=4,
        ...          dataloader=dict(batch_size=128, num_workers=4)),
        ...     dict(type='ProgressiveScheduleHook'),
        ... ]
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 pipeline: Sequence[dict],
                 k1: int = 30,
                 k2: int = 6,
                 eps: float = 0.6,
                 min_samples: int = 4,
                 interval: int = 1,
                 knn_backend: str = 'auto',
                 association: Union[str, dict] = 'hungarian',
                 flip_fusion: Optional[str] = None,
                 dataloader: Optional[dict] = None):
        if isinstance(interval, bool) or not isinstance(interval, int) \
                or interval < 1:
            raise ValueError('ClusteringHook: interval must be an int >= 1 '
                             '(cluster every interval epochs), got '
                             f'{interval!r}')
        check_clustering_args(k1, k2, eps, min_samples, knn_backend,
                              owner='ClusteringHook',
                              association=association)
        if flip_fusion not in FLIP_FUSIONS:
            raise ValueError(f'ClusteringHook: flip_fusion must be one of '
                             f'{FLIP_FUSIONS}, got {flip_fusion!r}')
        self.flip_fusion = flip_fusion
        self.pipeline = list(pipeline)
        self.cluster_cfg = dict(
            k1=k1,
            k2=k2,
            eps=eps,
            min_samples=min_samples,
            knn_backend=knn_backend)
        self.association = association
        self.interval = interval
        self.dataloader_cfg = dict(batch_size=64, num_workers=2)
        self.dataloader_cfg.update(dataloader or {})
        self._loader = None
        self._memory: Optional[CrossModalMemory] = None
        self._modalities: Optional[np.ndarray] = None
        self._pids: Optional[np.ndarray] = None
        self._part_ranges: List[Tuple[int, int]] = []
        # whether the training set holds the memory's labels
        self._labelled = False
        #: Statistics of every clustering so far (rank 0), with ``epoch``.
        self.history: List[Dict[str, float]] = []

    # ------------------------------------------------------------ hooks --
    def before_train(self, runner: Runner) -> None:
        """Check the dataset and model, build the extraction loader and
        relabel the dataset with the labels of a loaded checkpoint."""
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, (BaseVIReIDDataset, VIReIDConcatDataset)):
            raise TypeError(
                'ClusteringHook: the training set must be a '
                'BaseVIReIDDataset or a VIReIDConcatDataset of them (it '
                f'holds the pseudo-labels), got {type(dataset).__name__}')
        self._part_ranges = getattr(dataset, 'part_ranges',
                                    [(0, len(dataset))])
        self._memory = self._find_memory(runner)
        self._modalities = dataset.modalities
        if 'pid' in dataset.get_data_info(0):
            self._pids = dataset.pids
        # The training items in their order (nothing re-read from disk)
        # with the test pipeline; build_dataloader deep-copies the view.
        self._loader = runner.build_dataloader(
            dict(
                self.dataloader_cfg,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dataset.with_pipeline(self.pipeline)),
            seed=runner.seed)
        saved = self._memory.pseudo_labels
        if not saved.numel():
            return
        if len(saved) == len(dataset) and np.array_equal(
                self._memory.modalities.cpu().numpy(), self._modalities):
            self._relabel(runner)
            runner.logger.info('ClusteringHook: pseudo-labels restored '
                               'from the checkpoint')
        else:
            runner.logger.warning(
                f'ClusteringHook: the checkpoint holds {len(saved)} '
                f'pseudo-labels but the training set has {len(dataset)} '
                'images (or other modalities); clustering again')

    def before_train_epoch(self, runner: Runner) -> None:
        if self._labelled and runner.epoch % self.interval:
            return
        start = time.perf_counter()
        features = extract_features(
            runner.model,
            self._loader,
            description='Extracting features for clustering',
            flip_fusion=self.flip_fusion)['features']
        time_extract = time.perf_counter() - start
        result = None
        if dist.get_rank() == 0:
            result = concat_pseudo_labels([
                cross_modal_pseudo_labels(
                    features[begin:end],
                    self._modalities[begin:end],
                    pids=None if self._pids is None else
                    self._pids[begin:end],
                    association=self.association,
                    **self.cluster_cfg)
                for begin, end in self._part_ranges
            ], self._modalities, self._pids)
        self._memory.reset(features,
                           None if result is None else result.pseudo_labels,
                           self._modalities,
                           None if result is None else result.pairs)
        self._relabel(runner)
        if result is not None:
            self._log(runner, dict(result.stats, time_extract=time_extract))

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if self.history:
            checkpoint['clustering'] = dict(history=self.history)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        self.history = list(
            checkpoint.get('clustering', {}).get('history', []))

    def after_run(self, runner: Runner) -> None:
        """Plot and dump the statistics of every clustering (rank 0)."""
        if dist.get_rank() != 0 or not self.history:
            return
        png = osp.join(runner.log_dir, 'clustering_stats.png')
        plot_clustering_history(
            self.history, png, title=f'{runner.experiment_name}: clustering')
        dump(self.history, osp.join(runner.log_dir, 'clustering_stats.json'),
             indent=1)
        runner.logger.info(f'ClusteringHook: statistics plotted to {png}')

    # ---------------------------------------------------------- helpers --
    @staticmethod
    def _find_memory(runner: Runner) -> CrossModalMemory:
        """The model's one :class:`CrossModalMemory`."""
        model = get_ori_model(runner.model)
        memories = [
            m for m in model.modules() if isinstance(m, CrossModalMemory)
        ]
        if len(memories) != 1:
            raise TypeError(
                'ClusteringHook: the model must own exactly one '
                'CrossModalMemory (e.g. the memory of MemoryContrastHead), '
                f'found {len(memories)} in {type(model).__name__}')
        return memories[0]

    def _relabel(self, runner: Runner) -> None:
        """Relabel the training set from the memory, restart its loader."""
        runner.train_dataloader.dataset.set_pseudo_labels(
            self._memory.pseudo_labels.cpu().numpy())
        # as mmpretrain's SwitchRecipeHook: the next epoch forks new workers
        runner.train_loop.dataloader._iterator = None
        self._labelled = True

    def _log(self, runner: Runner, stats: dict) -> None:
        """Warn about empty modalities; log the statistics."""
        for modality in (RGB, IR):
            name = MODALITY_NAMES[modality]
            if stats[f'num_clusters_{name}'] == 0:
                runner.logger.warning(
                    f'ClusteringHook: epoch {runner.epoch}: no {name} '
                    f'cluster (all {stats[f"images_{name}"]} {name} images '
                    'are outliers); training goes on with the other '
                    'modality\'s clusters and the instance-level losses. If '
                    'this persists, raise eps or lower min_samples.')
        self.history.append(dict(epoch=runner.epoch, **stats))
        runner.logger.info(
            f'ClusteringHook: epoch {runner.epoch}: ' +
            ', '.join(f'{key} {value:.4f}' if isinstance(value, float) else
                      f'{key} {value}' for key, value in stats.items()))
        runner.visualizer.add_scalars(
            {f'clustering/{key}': value
             for key, value in stats.items()},
            step=runner.iter)
