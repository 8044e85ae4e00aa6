"""Time ``VIReIDMetric`` on a SYSU-MM01-sized random test set.

The test set has the shape of SYSU-MM01's: 96 ids, 3,803 IR queries (cameras
3 and 6) and 6,775 RGB gallery candidates (cameras 1, 2, 4, 5), from which
every trial draws a single-shot gallery of about 380 (all-search) or 190
(indoor-search) images. The features are identity centres plus Gaussian
noise, L2-normalised, so that the scores are neither 0 nor 100. The metric
scores the default SYSU-MM01 settings (2 settings x ``--num-trials`` trials)
``--repeat`` times; the script prints the fastest wall and CPU time
(``time.process_time``) of ``compute_metrics`` and writes the metrics to
``--out`` (JSON) so that two versions of the package can be compared::

    python tools/analysis_tools/benchmark_metric.py --out new.json
    PYTHONPATH=/path/to/other/checkout \\
        python tools/analysis_tools/benchmark_metric.py --out old.json

``--rerank`` times the metric with k-reciprocal re-ranking
(``VIReIDMetric(rerank=dict())``, the defaults k1=20, k2=6, lambda=0.3).
"""
import argparse
import json
import logging
import os.path as osp
import time

import numpy as np
import torch
from mmengine.logging import MMLogger

import mmvireid
from mmvireid.evaluation import VIReIDMetric
from mmvireid.structures import IR, RGB


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-ids', type=int, default=96)
    parser.add_argument('--num-queries', type=int, default=3803)
    parser.add_argument('--num-candidates', type=int, default=6775)
    parser.add_argument('--dim', type=int, default=2048)
    parser.add_argument(
        '--noise',
        type=float,
        default=5.0,
        help='noise norm relative to the unit identity centres')
    parser.add_argument('--num-trials', type=int, default=10)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--rerank', action='store_true', help='with k-reciprocal re-ranking')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    return parser.parse_args()


def make_results(num_ids, num_queries, num_candidates, dim, noise, seed):
    """What ``VIReIDMetric.process`` keeps for a random SYSU-like test set."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((num_ids, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    pids = np.concatenate([
        rng.integers(1, num_ids + 1, num_queries),
        rng.integers(1, num_ids + 1, num_candidates)
    ])
    camids = np.concatenate([
        rng.choice([3, 6], num_queries),
        rng.choice([1, 2, 4, 5], num_candidates)
    ])
    is_query = np.arange(len(pids)) < num_queries
    features = centres[pids - 1] + noise / np.sqrt(dim) * rng.standard_normal(
        (len(pids), dim)).astype(np.float32)
    counts = {}
    results = []
    for feature, pid, camid, query in zip(features, pids.tolist(),
                                          camids.tolist(), is_query.tolist()):
        number = counts[pid, camid] = counts.get((pid, camid), 0) + 1
        results.append(
            dict(
                feature=torch.from_numpy(feature),
                pid=pid,
                camid=camid,
                modality=IR if query else RGB,
                is_query=query,
                is_gallery=not query,
                img_path=f'sysu/cam{camid}/{pid:04d}/{number:04d}.jpg'))
    return results


def main():
    args = parse_args()
    # The metric logs every trial; keep the output to the timings.
    MMLogger.get_instance('benchmark_metric', log_level=logging.WARNING)
    results = make_results(args.num_ids, args.num_queries,
                           args.num_candidates, args.dim, args.noise,
                           args.seed)
    kwargs = dict(rerank=dict()) if args.rerank else {}
    metric = VIReIDMetric(protocol='sysu', num_trials=args.num_trials,
                          **kwargs)
    print(f'mmvireid from {osp.dirname(mmvireid.__file__)}')
    walls, cpus = [], []
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        metrics = metric.compute_metrics(results)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(f'compute_metrics on {args.num_queries} queries x '
          f'{args.num_candidates} candidates, 2 settings x {args.num_trials}'
          f' trials{" with re-ranking" if args.rerank else ""}: wall '
          f'{min(walls):.3f} s, CPU {min(cpus):.3f} s (best of '
          f'{args.repeat})')
    print(', '.join(f'{key} {metrics[key]:.2f}'
                    for key in ('all/R1', 'all/mAP', 'indoor/R1',
                                'indoor/mAP')))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(metrics, f, indent=1)


if __name__ == '__main__':
    main()
