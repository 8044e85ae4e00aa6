"""Draw queries and their top-k gallery images as the protocol ranks them.

For one evaluation setting (SYSU-MM01 ``all`` / ``indoor``, RegDB
``visible2thermal`` / ``thermal2visible``, LLCM ``vis2nir`` / ``nir2vis``, or
the config's own ``VIReIDMetric`` settings) and one gallery trial, the
ranked lists are those the metric scores: the tool builds the config's
:class:`VIReIDMetric` and draws from its per-query results
(:meth:`VIReIDMetric.rank_setting`): the same queries and gallery (trial
``t``, which the metric logs as "trial t+1"), the same distances, the
protocol's removals (SYSU-MM01: no camera-2 gallery for camera-3 queries;
LLCM: no gallery item with the query's id and camera). Each PNG shows a
query and its top-k gallery images, true matches framed green, false ones
red, with rank and distance.

Example:
    # from a feature file, the 20 worst queries of SYSU indoor search
    python tools/analysis_tools/visualize_retrieval.py \\
        --features work_dirs/agw_r50_sysu/features_test.npz \\
        --setting indoor --worst-first --num-queries 20 --out-dir vis/
    # from a config and a checkpoint, a grid of 8 queries of RegDB T->V
    python tools/analysis_tools/visualize_retrieval.py \\
        configs/agw/agw_r50_regdb.py work_dirs/agw_r50_regdb/epoch_80.pth \\
        --setting thermal2visible --num-queries 8 --grid
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import mmcv
import numpy as np
from tool_utils import add_runner_args, features_from_args, parse_tool_args

from mmvireid.evaluation import VIReIDMetric
from mmvireid.structures import MODALITY_NAMES
from mmvireid.utils import register_all_modules
from mmvireid.visualization import VIReIDVisualizer, stack_rows

#: Shown when neither --num-queries nor --query-list is given.
DEFAULT_NUM_QUERIES = 10
#: Arguments of the metric a feature file's ``meta`` may record.
METRIC_META_KEYS = ('settings', 'num_trials', 'rerank', 'gallery_draw',
                    'rand_perm_file')
#: Arrays of a feature file the metric reads.
FIELDS = ('pid', 'camid', 'modality', 'is_query', 'is_gallery', 'img_path')


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw queries and their ranked gallery images')
    parser.add_argument('config', nargs='?', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--features',
        help='feature file of the test split (extract_features.py) instead '
        'of CONFIG CHECKPOINT')
    parser.add_argument(
        '--setting',
        help='evaluation setting (query -> gallery direction), e.g. sysu '
        'all/indoor, regdb visible2thermal/thermal2visible, llcm '
        'vis2nir/nir2vis (default: the first of the protocol)')
    parser.add_argument(
        '--trial',
        type=int,
        default=0,
        help='gallery trial, 0-based (the metric logs trial t as "trial '
        't+1"; default: 0)')
    parser.add_argument('--topk',
                        type=int,
                        default=10,
                        help='gallery images per query')
    parser.add_argument(
        '--num-queries',
        type=int,
        help=f'queries to draw; 0: all (default: {DEFAULT_NUM_QUERIES}, '
        'spread over the query set, or every query of --query-list)')
    parser.add_argument(
        '--worst-first',
        action='store_true',
        help='queries sorted by AP ascending (no true match last)')
    parser.add_argument(
        '--query-list',
        help='text file of queries, one per line: an item index of the '
        'feature file or an image path (absolute, or relative to the data '
        'root)')
    parser.add_argument('--grid',
                        action='store_true',
                        help='one PNG with a row per query')
    parser.add_argument(
        '--out-dir',
        help='output folder (default: WORK_DIR/retrieval, or retrieval/ '
        'next to the feature file)')
    parser.add_argument('--img-size',
                        type=int,
                        nargs=2,
                        default=(192, 96),
                        metavar=('H', 'W'),
                        help='size of every thumbnail (default: 192 96)')
    parser.add_argument(
        '--protocol',
        choices=['sysu', 'regdb', 'llcm'],
        help='protocol, when the feature file does not name it')
    parser.add_argument(
        '--data-root',
        help='where the images are now, when the feature file was written '
        'with another data root')
    add_runner_args(parser)
    return parse_tool_args(parser, args)


def get_metric(data: Dict, protocol: Optional[str],
               name: Optional[str]) -> Tuple[VIReIDMetric, dict]:
    """The file's metric (or one of ``protocol``) and its setting ``name``.

    The metric is the config's test metric as the feature file records it
    (its ``meta``: protocol, settings, trials, re-ranking and gallery draw);
    with another ``protocol``, that protocol's defaults.
    """
    meta = data['meta']
    protocol = protocol or meta.get('protocol')
    if protocol is None:
        raise ValueError('the features do not name their protocol (the '
                         "config's test_evaluator is no VIReIDMetric); pass "
                         '--protocol sysu|regdb|llcm')
    kwargs = {
        key: meta[key]
        for key in METRIC_META_KEYS if meta.get(key) is not None
    } if protocol == meta.get('protocol') else {}
    metric = VIReIDMetric(protocol=protocol, **kwargs)
    settings = {s['name']: s for s in metric.settings}
    name = name or metric.settings[0]['name']
    if name not in settings:
        raise ValueError(f'--setting {name!r} is not a setting of protocol '
                         f'{protocol!r}; choose one of {sorted(settings)}')
    return metric, settings[name]


def rank_trial(data: Dict, metric: VIReIDMetric, setting: dict, trial: int,
               topk: int) -> Tuple[np.ndarray, np.ndarray, Dict]:
    """Queries, gallery and ranked lists of one trial, as the metric scores
    them.

    Returns:
        tuple: ``(q_index, g_index, results)``: item indices of the Q queries
        and the G gallery items, and the per-query results of
        :meth:`VIReIDMetric.rank_setting` with the top-``topk`` lists.
    """
    fields = {key: data[key] for key in FIELDS}
    _, q_index, g_index, results = next(
        metric.rank_setting(
            setting, data['features'], fields, trials=[trial], topk=topk))
    return q_index, g_index, results


def read_query_list(path: str, img_path: np.ndarray,
                    data_root: Optional[str]) -> np.ndarray:
    """Item indices of the queries listed in ``path``.

    Each non-blank line (``#`` starts a comment) is an item index or an
    image path, absolute or relative to ``data_root``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'--query-list {path!r}: no such file')
    with open(path) as f:
        entries = [line.split('#')[0].strip() for line in f]
    entries = [e for e in entries if e]
    if not entries:
        raise ValueError(f'--query-list {path!r} lists no query')
    by_path = {osp.normpath(p): i for i, p in enumerate(img_path)}
    if data_root:
        by_path.update({
            osp.normpath(osp.relpath(p, data_root)): i
            for i, p in enumerate(img_path)
        })
    index, unknown = [], []
    for entry in entries:
        if entry.isdigit() and int(entry) < len(img_path):
            index.append(int(entry))
        elif osp.normpath(entry) in by_path:
            index.append(by_path[osp.normpath(entry)])
        else:
            unknown.append(entry)
    if unknown:
        raise ValueError(
            f'--query-list {path!r}: {len(unknown)} entries are neither an '
            f'item index below {len(img_path)} nor an image path of the '
            f'features: {unknown[:5]}')
    return np.asarray(index, dtype=np.int64)


def select_queries(ap: np.ndarray,
                   num_queries: Optional[int],
                   worst_first: bool = False,
                   candidates: Optional[np.ndarray] = None) -> np.ndarray:
    """Positions of the queries to draw.

    Args:
        ap (np.ndarray): AP of every query, shape (Q,), NaN without a true
            match.
        num_queries (int, optional): How many; None or 0: all.
        worst_first (bool): Sort by AP ascending, NaN last.
        candidates (np.ndarray, optional): Positions to choose from, in this
            order (a query list). None: all queries; unsorted, ``num_queries``
            of them evenly spread over the query set so that many ids are
            seen.

    Returns:
        np.ndarray: Positions into the Q queries, int64.
    """
    pool = np.arange(len(ap)) if candidates is None else candidates
    if worst_first:
        pool = pool[np.argsort(ap[pool], kind='stable')]
    if not num_queries or num_queries >= len(pool):
        return pool
    if worst_first or candidates is not None:
        return pool[:num_queries]
    spread = np.linspace(0, len(pool), num_queries, endpoint=False)
    return pool[spread.astype(np.int64)]


def image_paths(img_path: np.ndarray, meta: dict,
                data_root: Optional[str]) -> np.ndarray:
    """Paths to read the images from, moved to ``data_root`` if given."""
    if data_root is None:
        return img_path
    old_root = meta.get('data_root')
    if not old_root:
        raise ValueError('--data-root: the features do not record the data '
                         'root they were extracted from')
    return np.array(
        [osp.join(data_root, osp.relpath(p, old_root)) for p in img_path])


def listed_queries(path: str, data: Dict, q_index: np.ndarray,
                   name: str) -> np.ndarray:
    """Positions among the queries of the items of a query list."""
    listed = read_query_list(path, data['img_path'],
                             data['meta'].get('data_root'))
    position = {item: pos for pos, item in enumerate(q_index.tolist())}
    strangers = [int(i) for i in listed if i not in position]
    if strangers:
        raise ValueError(
            f'--query-list {path!r}: items {strangers[:5]} are not queries '
            f'of setting {name!r} (e.g. {data["img_path"][strangers[0]]!r})')
    return np.array([position[i] for i in listed.tolist()], dtype=np.int64)


def output_dir(args: argparse.Namespace) -> str:
    if args.out_dir:
        return args.out_dir
    if args.features:
        return osp.join(osp.dirname(osp.abspath(args.features)), 'retrieval')
    work_dir = args.work_dir or osp.join(
        'work_dirs',
        osp.splitext(osp.basename(args.config))[0])
    return osp.join(work_dir, 'retrieval')


def main(args: Optional[List[str]] = None) -> Optional[List[str]]:
    """Run the tool; returns the written PNG paths (None on ranks > 0)."""
    args = parse_args(args)
    if args.topk < 1:
        raise ValueError(f'--topk must be positive, got {args.topk}')
    if args.num_queries is not None and args.num_queries < 0:
        raise ValueError(f'--num-queries must be >= 0, got '
                         f'{args.num_queries}')
    register_all_modules(init_default_scope=False)
    data = features_from_args(args.features, args.config, args.checkpoint,
                              'test', args.cfg_options, args.work_dir,
                              args.launcher)
    if data is None:
        return None
    meta = data['meta']
    if 'is_query' not in data:
        raise ValueError(
            f'the features are of the {meta.get("split")!r} split, without '
            'is_query / is_gallery; ranked lists need the test split')
    metric, setting = get_metric(data, args.protocol, args.setting)
    name, trial = setting['name'], args.trial
    q_index, g_index, results = rank_trial(data, metric, setting, trial,
                                           args.topk)

    candidates = None if args.query_list is None else listed_queries(
        args.query_list, data, q_index, name)
    num_queries = args.num_queries
    if num_queries is None and candidates is None:
        num_queries = DEFAULT_NUM_QUERIES
    shown = select_queries(results['ap'], num_queries, args.worst_first,
                           candidates)

    pid, camid = data['pid'], data['camid']
    paths = image_paths(data['img_path'], meta, args.data_root)
    shown_index = results['index'][shown]
    needed = np.concatenate(
        [q_index[shown], g_index[shown_index[shown_index >= 0]]])
    missing = [p for p in np.unique(paths[needed]) if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} images of the ranked lists do not exist, e.g. '
            f'{missing[0]!r}; pass --data-root if the dataset moved since '
            'the features were extracted')

    out_dir = output_dir(args)
    os.makedirs(out_dir, exist_ok=True)
    valid = results['valid']
    score = (f'mAP {100 * np.mean(results["ap"][valid]):.2f} over the '
             f'{int(valid.sum())} queries with a true match'
             if valid.any() else 'no query has a true match')
    print(f'{name}, trial {trial}: {len(q_index)} queries, gallery of '
          f'{len(g_index)}; {score}')

    visualizer = VIReIDVisualizer(img_size=tuple(args.img_size))
    rows, written = [], []
    for order, q in enumerate(shown.tolist()):
        item = q_index[q]
        kept = results['index'][q] >= 0
        ranked = g_index[results['index'][q][kept]]
        num_matches = results['num_matches'][q]
        score = (f'AP {100 * results["ap"][q]:.1f}%, {num_matches} true '
                 f'match{"es" if num_matches > 1 else ""}'
                 if valid[q] else 'no true match in the gallery (not scored)')
        out_file = None if args.grid else osp.join(
            out_dir, f'{name}_trial{trial}_{order:03d}_pid{pid[item]}'
            f'_cam{camid[item]}_item{item}.png')
        row = visualizer.visualize_ranked_list(
            mmcv.imread(paths[item], channel_order='rgb'),
            [mmcv.imread(paths[g], channel_order='rgb') for g in ranked],
            results['match'][q][kept],
            results['distance'][q][kept],
            query_text=f'pid {pid[item]} cam {camid[item]}',
            gallery_texts=[f'pid {pid[g]} cam {camid[g]}' for g in ranked],
            header=f'{name} trial {trial} | query {order + 1}/{len(shown)} '
            f'(item {item}): pid {pid[item]} cam {camid[item]} '
            f'{MODALITY_NAMES[int(data["modality"][item])].upper()} | '
            f'{score}',
            out_file=out_file,
            name=f'{name}_trial{trial}_item{item}')
        if args.grid:
            rows.append(row)
        else:
            written.append(out_file)
    if args.grid:
        grid_file = osp.join(out_dir, f'{name}_trial{trial}_grid.png')
        mmcv.imwrite(mmcv.rgb2bgr(stack_rows(rows)), grid_file)
        written.append(grid_file)
    print(f'wrote {len(written)} PNG file(s) to {out_dir}')
    return written


if __name__ == '__main__':
    main()
