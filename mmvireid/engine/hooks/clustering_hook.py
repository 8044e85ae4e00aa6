"""Pseudo-labels for unsupervised VI-ReID, recomputed before epochs."""
import copy
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine import dist
from mmengine.dataset import Compose
from mmengine.fileio import dump
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.utils import ProgressBar
from sklearn.metrics import adjusted_rand_score

from mmvireid.clustering import (associate_clusters, cluster_centroids,
                                 pseudo_labels)
from mmvireid.datasets.base_vireid_dataset import (IR, MODALITY_NAMES, RGB,
                                                   BaseVIReIDDataset)
from mmvireid.models.memories import BaseMemory, all_gather_batch
from mmvireid.registry import HOOKS
from mmvireid.visualization.clustering_plot import plot_clustering_history


@HOOKS.register_module()
class ClusteringHook(Hook):
    """Extract, cluster each modality, associate, relabel, rebuild memories.

    Before every ``interval``-th training epoch (epochs 0, interval, ...):

    1. Extract the flip-averaged, L2-normalised feature of every training
       image (``model.test_step`` with ``pipeline``, no augmentation) on all
       ranks, with a progress bar on rank 0; gather them in dataset order.
    2. On rank 0, per modality: :func:`pseudo_labels` (k-reciprocal Jaccard
       distance + DBSCAN; -1 = outlier), then :func:`associate_clusters`
       (Hungarian matching of the RGB and IR centroids). The labels and
       pairs are broadcast to every rank.
    3. Write the labels into the training set
       (:meth:`BaseVIReIDDataset.set_pseudo_labels`; RGB and IR items are
       labelled in separate label spaces) and restart the train loader's
       iterator so that its workers see them (``stack.md`` trap 6).
    4. Rebuild the model's memories with ``head.reset_memories(features,
       labels, modalities, pairs)`` on every rank, then broadcast every
       memory bank from rank 0 so the ranks hold bit-identical memories.
    5. Log clusters and outliers per modality, matched pairs, the time of
       extraction and clustering and, since the training set has true
       ``pid``s, the adjusted Rand index of the pseudo-labels against them
       (a diagnostic, never used for training): per modality (``ari_rgb``,
       ``ari_ir``) and jointly (``ari``: IR clusters take the label of
       their associated RGB cluster), outliers counted as singletons. The
       values go to ``runner.logger`` and, as ``clustering/<name>`` at the
       current iteration, to the visualizer's backends. A modality in which
       no cluster forms logs a warning; training goes on with what it has.

    After training, rank 0 plots the statistics of every clustering
    against the epoch (:func:`plot_clustering_history`) to
    ``<log_dir>/clustering_stats.png`` and writes them to
    ``<log_dir>/clustering_stats.json``.

    Resume: the labels, the pairs and the statistics history are saved in
    the checkpoint (``checkpoint['clustering']``: tensors, and plain
    numbers for the history) and restored at
    ``before_train``; the memories are buffers of the model and come back
    with its state dict. A resumed run thus continues with the labels and
    memories an uninterrupted run would have, whether or not its first
    epoch re-clusters.

    Args:
        pipeline (list[dict]): Test pipeline of the extraction (load,
            resize, pack).
        k1 (int): k-reciprocal neighbourhood size. Defaults to 30.
        k2 (int): Query-expansion size. Defaults to 6.
        eps (float): DBSCAN radius. Defaults to 0.6 (SYSU-MM01; 0.3 RegDB).
        min_samples (int): DBSCAN core size. Defaults to 4.
        interval (int): Cluster every ``interval`` epochs. Defaults to 1.
        knn_backend (str): Backend of the exact kNN (``'auto'``, ``'faiss'``
            or ``'torch'``). Defaults to ``'auto'``.
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

    priority = 'NORMAL'

    def __init__(self,
                 pipeline: Sequence[dict],
                 k1: int = 30,
                 k2: int = 6,
                 eps: float = 0.6,
                 min_samples: int = 4,
                 interval: int = 1,
                 knn_backend: str = 'auto',
                 dataloader: Optional[dict] = None):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError('ClusteringHook: interval must be an int >= 1, '
                             f'got {interval!r}')
        self.pipeline = list(pipeline)
        self.cluster_cfg = dict(
            k1=k1,
            k2=k2,
            eps=eps,
            min_samples=min_samples,
            knn_backend=knn_backend)
        self.interval = interval
        self.dataloader_cfg = dict(batch_size=64, num_workers=2)
        self.dataloader_cfg.update(dataloader or {})
        self.labels: Optional[np.ndarray] = None
        self.pairs: Optional[np.ndarray] = None
        self._loader = None
        self._modalities: Optional[np.ndarray] = None
        self._pids: Optional[np.ndarray] = None
        #: Statistics of every clustering so far (rank 0), with ``epoch``.
        self.history: List[Dict[str, float]] = []

    # ------------------------------------------------------------ hooks --
    def before_train(self, runner: Runner) -> None:
        """Check the dataset and model, build the extraction loader and
        relabel the dataset with labels restored from a checkpoint."""
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, BaseVIReIDDataset):
            raise TypeError(
                'ClusteringHook: the training set must be a '
                'BaseVIReIDDataset (it holds the pseudo-labels), got '
                f'{type(dataset).__name__}')
        if not hasattr(self._head(runner), 'reset_memories'):
            raise TypeError(
                'ClusteringHook: the model head must own the memories and '
                'have reset_memories() (e.g. SPCLHead), got '
                f'{type(self._head(runner)).__name__}')
        self._modalities = dataset.modalities
        if 'pid' in dataset.get_data_info(0):
            self._pids = dataset.pids
        # The training items in their order (nothing re-read from disk)
        # with the test pipeline; build_dataloader deep-copies the view.
        view = copy.copy(dataset)
        view.pipeline = Compose(self.pipeline)
        self._loader = runner.build_dataloader(
            dict(
                self.dataloader_cfg,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=view),
            seed=runner.seed)
        if self.labels is not None:
            if len(self.labels) == len(dataset):
                self._apply_labels(runner)
                runner.logger.info('ClusteringHook: pseudo-labels restored '
                                   'from the checkpoint')
            else:
                runner.logger.warning(
                    f'ClusteringHook: the checkpoint holds '
                    f'{len(self.labels)} pseudo-labels but the training set '
                    f'has {len(dataset)} images; clustering again')
                self.labels = self.pairs = None

    def before_train_epoch(self, runner: Runner) -> None:
        if self.labels is not None and runner.epoch % self.interval:
            return
        start = time.perf_counter()
        features = self._extract(runner)
        extract_time = time.perf_counter() - start

        modalities = self._modalities
        payload = [None, None, None]
        if dist.get_rank() == 0:
            payload = list(self._cluster(features, modalities))
        dist.broadcast_object_list(payload, src=0)
        self.labels, self.pairs, stats = payload

        self._apply_labels(runner)
        head = self._head(runner)
        head.reset_memories(features, torch.from_numpy(self.labels),
                            torch.from_numpy(modalities),
                            torch.from_numpy(self.pairs))
        for module in head.modules():
            if isinstance(module, BaseMemory):
                dist.broadcast(module.features, src=0)
        if dist.get_rank() == 0:
            self._log(runner, dict(stats, time_extract=extract_time))

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if self.labels is not None:
            checkpoint['clustering'] = dict(
                pseudo_labels=torch.from_numpy(self.labels),
                pairs=torch.from_numpy(self.pairs),
                history=self.history)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        state = checkpoint.get('clustering')
        if state is not None:
            self.labels = state['pseudo_labels'].cpu().numpy()
            self.pairs = state['pairs'].cpu().numpy()
            self.history = list(state.get('history', []))

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
    def _head(runner: Runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        return model.head

    def _apply_labels(self, runner: Runner) -> None:
        """Relabel the training set and restart its loader's workers."""
        runner.train_dataloader.dataset.set_pseudo_labels(self.labels)
        # as mmpretrain's SwitchRecipeHook: the next epoch forks new workers
        runner.train_loop.dataloader._iterator = None

    @torch.no_grad()
    def _extract(self, runner: Runner) -> torch.Tensor:
        """Features of every training image in dataset order, (N, D), on
        every rank."""
        num = len(self._loader.dataset)
        world_size = dist.get_world_size()
        progress = ProgressBar(num) if dist.get_rank() == 0 else None
        runner.model.eval()
        features, indices = [], []
        for data_batch in self._loader:
            samples = runner.model.test_step(data_batch)
            features.append(torch.stack([s.feature for s in samples]))
            indices.append(
                torch.tensor([s.sample_idx for s in samples],
                             device=features[-1].device))
            if progress is not None:
                progress.update(len(samples) * world_size)
        runner.model.train()
        # DefaultSampler deals indices round-robin and pads the last round
        # with repeats: gather, then place each row at its index.
        features, indices = all_gather_batch(
            torch.cat(features), torch.cat(indices))
        ordered = features.new_zeros(num, features.shape[1])
        ordered[indices] = features
        return ordered

    def _cluster(self, features: torch.Tensor, modalities: np.ndarray
                 ) -> Tuple[np.ndarray, np.ndarray, Dict[str, float]]:
        """Per-modality pseudo-labels and their association (rank 0).

        Returns:
            tuple: labels (N,) int64 in per-modality label spaces, pairs
            (P, 2) int64 ``[rgb_label, ir_label]``, and statistics.
        """
        start = time.perf_counter()
        labels = np.full(len(modalities), -1, dtype=np.int64)
        centroids = []
        stats = {}
        for modality in (RGB, IR):
            name = MODALITY_NAMES[modality]
            members = np.flatnonzero(modalities == modality)
            if len(members):
                member_feats = features[torch.from_numpy(members).to(
                    features.device)]
                labels[members], _ = pseudo_labels(member_feats,
                                                   **self.cluster_cfg)
                centroids.append(
                    cluster_centroids(member_feats, labels[members]))
            else:
                centroids.append(features.new_zeros(0, features.shape[1]))
            stats[f'num_clusters_{name}'] = len(centroids[-1])
            stats[f'outliers_{name}'] = int((labels[members] < 0).sum())
            stats[f'images_{name}'] = len(members)
        pairs, costs = associate_clusters(*centroids)
        stats['matched_pairs'] = len(pairs)
        if len(costs):
            stats['match_cost'] = float(costs.mean())
        stats['time_cluster'] = time.perf_counter() - start
        return labels, pairs, stats

    def _log(self, runner: Runner, stats: dict) -> None:
        """Warn about empty modalities; log the statistics and the ARI."""
        for modality in (RGB, IR):
            name = MODALITY_NAMES[modality]
            if stats[f'num_clusters_{name}'] == 0:
                runner.logger.warning(
                    f'ClusteringHook: epoch {runner.epoch}: no {name} '
                    f'cluster (all {stats[f"images_{name}"]} {name} images '
                    'are outliers); training goes on with the other '
                    'modality\'s clusters and the instance-level losses. If '
                    'this persists, raise eps or lower min_samples.')
        if self._pids is not None:
            stats.update(self._ari(self._pids, self._modalities))
        # plain Python numbers: the history goes into checkpoints, which are
        # loaded with weights_only=True
        self.history.append(
            dict(epoch=runner.epoch,
                 **{key: value.item() if isinstance(value, np.generic) else
                    value for key, value in stats.items()}))
        runner.logger.info(
            f'ClusteringHook: epoch {runner.epoch}: ' +
            ', '.join(f'{key} {value:.4f}' if isinstance(value, float) else
                      f'{key} {value}' for key, value in stats.items()))
        runner.visualizer.add_scalars(
            {f'clustering/{key}': value
             for key, value in stats.items()},
            step=runner.iter)

    def _ari(self, pids: np.ndarray, modalities: np.ndarray) -> dict:
        """Adjusted Rand index of the pseudo-labels against the true ids.

        Outliers count as singleton clusters. Joint labels: an RGB cluster
        keeps its label, an IR cluster takes the label of its associated
        RGB cluster, or a new one when unmatched.
        """
        num_rgb, num_ir = (
            int(self.labels[modalities == modality].max(initial=-1)) + 1
            for modality in (RGB, IR))
        ir_to_joint = num_rgb + np.arange(num_ir)
        ir_to_joint[self.pairs[:, 1]] = self.pairs[:, 0]
        joint = self.labels.copy()
        is_ir = (modalities == IR) & (self.labels >= 0)
        joint[is_ir] = ir_to_joint[self.labels[is_ir]]
        scores = {'ari': adjusted_rand_score(pids, _singletons(joint))}
        for modality in (RGB, IR):
            members = modalities == modality
            if members.any():
                scores[f'ari_{MODALITY_NAMES[modality]}'] = \
                    adjusted_rand_score(pids[members],
                                        _singletons(self.labels[members]))
        return scores


def _singletons(labels: np.ndarray) -> np.ndarray:
    """Give every -1 label its own new cluster id."""
    labels = labels.copy()
    outliers = labels < 0
    labels[outliers] = labels.max(initial=-1) + 1 + np.arange(outliers.sum())
    return labels
