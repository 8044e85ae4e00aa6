"""Cluster a model's training features with both flip fusions, compare.

ADCA and PGM cluster the mean of the L2-normalised features of an image
and of its flip, not renormalised; our default clusters the L2-normalised
mean of the raw features (``ClusteringHook(flip_fusion=...)``,
docs/en/recipes.md §5). This tool extracts the training set of a config
with its ``ClusteringHook``'s pipeline both ways, clusters both with the
hook's k1, k2, eps, min_samples and association, and prints per modality
the clusters, the outliers, the adjusted Rand index (ARI) between the two
label sets and each set's ARI against the true ids (outliers as
singletons).

Example:
    python tools/analysis_tools/compare_flip_fusion.py \\
        configs/cluster_contrast/cluster_contrast_r18_synthetic_sysu.py \\
        work_dirs/cluster_contrast_r18_synthetic_sysu/epoch_24.pth
"""
import argparse
from typing import Dict, List, Optional

import numpy as np
from sklearn.metrics import adjusted_rand_score
from tool_utils import (add_runner_args, extract_split, load_tool_config,
                        parse_tool_args)

from mmvireid.clustering import (cross_modal_pseudo_labels,
                                 outliers_as_singletons)
from mmvireid.structures import IR, MODALITY_NAMES, RGB
from mmvireid.utils import register_all_modules

#: The two fusions compared: ours (the model's test feature) and ADCA's.
FUSIONS = {'ours': None, 'adca_pgm': 'mean_of_normalized'}
#: Arguments of the ClusteringHook that cross_modal_pseudo_labels takes.
CLUSTER_ARGS = ('k1', 'k2', 'eps', 'min_samples', 'knn_backend',
                'association')


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Cluster the training features with both flip fusions '
        'and compare the label sets')
    parser.add_argument('config', help='config file path (with a '
                        'ClusteringHook in custom_hooks)')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_runner_args(parser)
    return parse_tool_args(parser, args)


def compare(labels: Dict[str, np.ndarray], pids: np.ndarray,
            modalities: np.ndarray) -> Dict[str, Dict[str, float]]:
    """Clusters, outliers and ARIs per modality of two label sets.

    Args:
        labels (dict[str, np.ndarray]): (N,) pseudo-labels of each fusion.
        pids (np.ndarray): (N,) true ids.
        modalities (np.ndarray): (N,) modality of every image.

    Returns:
        dict: Per modality name, ``clusters_<fusion>``,
        ``outliers_<fusion>``, ``ari_ids_<fusion>`` and ``ari_between``.
    """
    (name_a, a), (name_b, b) = labels.items()
    table = {}
    for modality in (RGB, IR):
        members = modalities == modality
        row = {}
        for name, found in ((name_a, a[members]), (name_b, b[members])):
            row[f'clusters_{name}'] = int(found.max(initial=-1)) + 1
            row[f'outliers_{name}'] = int((found < 0).sum())
            row[f'ari_ids_{name}'] = float(
                adjusted_rand_score(pids[members],
                                    outliers_as_singletons(found)))
        row['ari_between'] = float(
            adjusted_rand_score(outliers_as_singletons(a[members]),
                                outliers_as_singletons(b[members])))
        table[MODALITY_NAMES[modality]] = row
    return table


def main(args: Optional[List[str]] = None) -> Optional[dict]:
    """Run the tool; returns the table (None on ranks other than 0)."""
    args = parse_args(args)
    register_all_modules(init_default_scope=False)
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h.get('type') == 'ClusteringHook'
    ]
    if not hooks:
        raise ValueError(f'config {args.config!r} has no ClusteringHook in '
                         'custom_hooks: nothing says how to cluster')
    hook = hooks[0]
    cluster_args = {k: hook[k] for k in CLUSTER_ARGS if k in hook}
    labels, data = {}, None
    for name, fusion in FUSIONS.items():
        data = extract_split(cfg, args.checkpoint, split='train',
                             pipeline=hook['pipeline'], flip_fusion=fusion)
        if data is None:
            return None
        labels[name] = cross_modal_pseudo_labels(
            data['features'], data['modality'],
            **cluster_args).pseudo_labels
    table = compare(labels, data['pid'], data['modality'])
    for modality, row in table.items():
        print(f'{modality}: ' + ', '.join(
            f'{key} {value:.4f}' if isinstance(value, float) else
            f'{key} {value}' for key, value in row.items()))
    return table


if __name__ == '__main__':
    main()
