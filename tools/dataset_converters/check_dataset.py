"""Check a dataset tree: build it with the real loader and count it.

Reads the train and test splits exactly as training and testing do (a
missing folder, index file or image stops with a message naming it) and
prints, per split, the images and ids per modality and per camera, and for
the test split the queries and gallery candidates. Counts of the official
releases are compared where docs/en/recipes.md §1 states them (e.g.
SYSU-MM01 train: 395 ids, 22,258 RGB + 11,909 IR images; a known broken
preparation gives 367 ids / 11,333 IR images).

Example:
    # the datasets of a config (its train and test data loaders)
    python tools/dataset_converters/check_dataset.py \\
        configs/agw/agw_r50_sysu.py
    # a tree by its layout
    python tools/dataset_converters/check_dataset.py --layout sysu \\
        --data-root data/sysu_mm01
    python tools/dataset_converters/check_dataset.py --layout regdb \\
        --data-root data/regdb --trial 3
"""
import argparse
import copy
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope

from mmvireid.registry import DATASETS
from mmvireid.structures import MODALITY_NAMES
from mmvireid.utils import register_all_modules

#: Dataset class of each layout.
LAYOUT_TYPES = {
    'sysu': 'SYSUMM01Dataset',
    'regdb': 'RegDBDataset',
    'llcm': 'LLCMDataset'
}
#: Counts of the official releases (docs/en/recipes.md §1), by
#: ``dataset_name`` and split: ids and images per modality.
OFFICIAL = {
    'SYSU-MM01': {
        'train': dict(ids=395, rgb=22258, ir=11909),
        'test': dict(ids=96, queries=3803),
    },
    'RegDB': {
        'train': dict(ids=206, rgb=2060, ir=2060),
        'test': dict(ids=206, rgb=2060, ir=2060),
    },
    'LLCM': {
        'train': dict(ids=713),
    },
}


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build the train and test splits of a VI-ReID dataset '
        'and print their counts')
    parser.add_argument('config',
                        nargs='?',
                        help='config whose train / test datasets to read')
    parser.add_argument('--layout',
                        choices=sorted(LAYOUT_TYPES),
                        help='layout of the tree')
    parser.add_argument('--data-root', help='root of the tree (with --layout)')
    parser.add_argument('--trial',
                        type=int,
                        default=1,
                        help='RegDB trial 1..10 (default: 1)')
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args(args)


def dataset_cfgs(args: argparse.Namespace) -> Dict[str, dict]:
    """Dataset config of each split, without transforms."""
    if (args.config is None) == (args.layout is None):
        raise ValueError('give a CONFIG, or --layout and --data-root')
    if args.layout is not None:
        if args.data_root is None:
            raise ValueError('--layout needs --data-root')
        base = dict(type=LAYOUT_TYPES[args.layout], data_root=args.data_root)
        if args.layout == 'regdb':
            base['trial'] = args.trial
        return {split: dict(base, split=split) for split in ('train', 'test')}
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config!r}: no such file')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfgs = {}
    for split, loader in (('train', 'train_dataloader'), ('test',
                                                          'test_dataloader')):
        if cfg.get(loader):
            dataset = copy.deepcopy(cfg[loader].dataset.to_dict())
            dataset['pipeline'] = []
            cfgs[split] = dataset
    if not cfgs:
        raise ValueError(f'config {args.config!r} has no train_dataloader '
                         'nor test_dataloader')
    return cfgs


def summarize(dataset) -> dict:
    """Counts of one split.

    Returns:
        dict: ``images``, ``ids``, ``modalities`` ({name: dict(images, ids,
        cameras={camid: images})}) and, for a test split, ``queries`` and
        ``gallery`` ({modality name: images}).
    """
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    pid = np.array([d['pid'] for d in infos])
    camid = np.array([d['camid'] for d in infos])
    modality = np.array([d['modality'] for d in infos])
    summary = dict(images=len(infos), ids=len(np.unique(pid)), modalities={})
    for value, name in MODALITY_NAMES.items():
        sel = modality == value
        cams, counts = np.unique(camid[sel], return_counts=True)
        summary['modalities'][name] = dict(images=int(sel.sum()),
                                           ids=len(np.unique(pid[sel])),
                                           cameras=dict(
                                               zip(cams.tolist(),
                                                   counts.tolist())))
    if infos and 'is_query' in infos[0]:
        for key, field in (('queries', 'is_query'), ('gallery', 'is_gallery')):
            flag = np.array([d[field] for d in infos], dtype=bool)
            summary[key] = {
                name: int((flag & (modality == value)).sum())
                for value, name in MODALITY_NAMES.items()
            }
    return summary


def official_differences(dataset_name: str, split: str,
                         summary: dict) -> Optional[List[str]]:
    """How ``summary`` differs from the official release's counts.

    Returns:
        list[str] | None: One line per differing count ([] when all agree);
        None when no official count is known for this dataset and split.
    """
    expected = OFFICIAL.get(dataset_name, {}).get(split)
    if expected is None:
        return None
    found = dict(ids=summary['ids'],
                 rgb=summary['modalities']['rgb']['images'],
                 ir=summary['modalities']['ir']['images'],
                 queries=sum(summary.get('queries', {}).values()))
    return [
        f'{key}: {found[key]} here, {value} in the official release'
        for key, value in expected.items() if found[key] != value
    ]


def format_summary(name: str, split: str, summary: dict) -> str:
    lines = [
        f'{name} {split}: {summary["images"]} images, '
        f'{summary["ids"]} ids'
    ]
    for modality, counts in summary['modalities'].items():
        cams = ', '.join(f'cam{c} {n}' for c, n in counts['cameras'].items())
        lines.append(f'  {modality}: {counts["images"]} images, '
                     f'{counts["ids"]} ids ({cams or "no camera"})')
    for key in ('queries', 'gallery'):
        if key in summary:
            lines.append(f'  {key}: ' +
                         ', '.join(f'{n} {m}'
                                   for m, n in summary[key].items()))
    differences = official_differences(name, split, summary)
    if differences == []:
        lines.append('  matches the official release')
    elif differences:
        lines += [
            f'  differs from the official release: {d}' for d in differences
        ]
    return '\n'.join(lines)


def main(args: Optional[List[str]] = None) -> Dict[str, dict]:
    """Run the checker; returns the summary of each split."""
    args = parse_args(args)
    register_all_modules(init_default_scope=False)
    summaries = {}
    with DefaultScope.overwrite_default_scope('mmvireid'):
        for split, cfg in dataset_cfgs(args).items():
            dataset = DATASETS.build(cfg)
            summaries[split] = summarize(dataset)
            name = dataset.metainfo.get('dataset_name', type(dataset).__name__)
            print(format_summary(name, split, summaries[split]))
    return summaries


if __name__ == '__main__':
    main()
