"""2-D t-SNE of features: colour by identity, marker by modality.

RGB images are drawn as circles, IR images as triangles; with a good model
the triangles of an identity sit in the cluster of its circles (the modality
gap closed), with a poor one the two modalities form separate clouds.

Example:
    python tools/analysis_tools/vis_tsne.py \\
        --features work_dirs/agw_r50_sysu/features_test.npz \\
        --num-ids 20 --perplexity 30 --out work_dirs/agw_r50_sysu/tsne.png
    python tools/analysis_tools/vis_tsne.py CONFIG CHECKPOINT --split train
"""
import argparse
import os.path as osp
from typing import List, Optional

import numpy as np
from tool_utils import add_runner_args, features_from_args, parse_tool_args

from mmvireid.utils import register_all_modules
from mmvireid.visualization import plot_embedding, select_ids, tsne_embedding


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='t-SNE picture of features by identity and modality')
    parser.add_argument('config', nargs='?', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--features',
        help='feature file (extract_features.py) instead of CONFIG '
        'CHECKPOINT')
    parser.add_argument(
        '--split',
        choices=['test', 'train'],
        default='test',
        help='split to extract with CONFIG CHECKPOINT (default: test)')
    parser.add_argument(
        '--num-ids',
        type=int,
        default=20,
        help='identities drawn at random; 0: all (default: 20)')
    parser.add_argument(
        '--perplexity',
        type=float,
        default=30.0,
        help='t-SNE perplexity, below the number of images (default: 30)')
    parser.add_argument('--seed',
                        type=int,
                        default=0,
                        help='seed of the id draw and t-SNE')
    parser.add_argument(
        '--out',
        help='output PNG (default: tsne_SPLIT.png next to the feature file, '
        'or in WORK_DIR)')
    add_runner_args(parser)
    return parse_tool_args(parser, args)


def main(args: Optional[List[str]] = None) -> Optional[str]:
    """Run the tool; returns the written PNG path (None on ranks > 0)."""
    args = parse_args(args)
    if args.num_ids < 0:
        raise ValueError(f'--num-ids must be >= 0, got {args.num_ids}')
    register_all_modules(init_default_scope=False)
    data = features_from_args(args.features, args.config, args.checkpoint,
                              args.split, args.cfg_options, args.work_dir,
                              args.launcher)
    if data is None:
        return None
    split = data['meta'].get('split') or args.split
    if args.out:
        out = args.out
    elif args.features:
        out = osp.join(osp.dirname(osp.abspath(args.features)),
                       f'tsne_{split}.png')
    else:
        out = osp.join(
            args.work_dir
            or osp.join('work_dirs',
                        osp.splitext(osp.basename(args.config))[0]),
            f'tsne_{split}.png')

    items = select_ids(data['pid'], args.num_ids, args.seed)
    pid, modality = data['pid'][items], data['modality'][items]
    embedding = tsne_embedding(data['features'][items], args.perplexity,
                               args.seed)
    dataset = data['meta'].get('dataset_name') or 'features'
    plot_embedding(
        embedding,
        pid,
        modality,
        out,
        title=f't-SNE of {dataset} {split} features: {len(items)} images '
        f'of {len(np.unique(pid))} ids (perplexity {args.perplexity:g})')
    print(f'wrote {out}: {len(items)} images of {len(np.unique(pid))} ids')
    return out


if __name__ == '__main__':
    main()
