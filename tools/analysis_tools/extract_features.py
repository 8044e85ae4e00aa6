"""Extract the features of a split to one ``.npz`` feature file.

The file holds ``features`` (N, D) float32, ``pid``, ``camid``,
``modality``, ``img_path`` and, for the test split, ``is_query`` /
``is_gallery`` (format: ``mmvireid/apis/features_io.py``). It is
the input of ``visualize_retrieval.py`` and ``vis_tsne.py``, and of your own
analyses (``np.load``).

Example:
    python tools/analysis_tools/extract_features.py \\
        configs/agw/agw_r50_sysu.py work_dirs/agw_r50_sysu/epoch_80.pth \\
        --split test --out work_dirs/agw_r50_sysu/features_test.npz
    # several processes (GPUs, or CPU with gloo)
    torchrun --nproc_per_node=2 tools/analysis_tools/extract_features.py \\
        CONFIG CHECKPOINT --launcher pytorch
"""
import argparse
import os.path as osp
from typing import List, Optional

import numpy as np
from tool_utils import (add_runner_args, extract_split, load_tool_config,
                        parse_tool_args)

from mmvireid.apis import save_features
from mmvireid.utils import register_all_modules


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the features of a split to an .npz file')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--split',
        choices=['test', 'train'],
        default='test',
        help='split to extract; train is read with the test pipeline '
        '(default: test)')
    parser.add_argument(
        '--out', help='output .npz (default: WORK_DIR/features_SPLIT.npz)')
    add_runner_args(
        parser,
        work_dir_help='work dir of the runner (logs; default: '
        'work_dirs/CONFIG_NAME)')
    return parse_tool_args(parser, args)


def main(args: Optional[List[str]] = None) -> Optional[str]:
    """Run the tool; returns the written path (None on ranks other than 0).
    """
    args = parse_args(args)
    if args.out is not None and not args.out.endswith('.npz'):
        raise ValueError(f'--out {args.out!r}: expected a .npz path')
    register_all_modules(init_default_scope=False)
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    data = extract_split(cfg, args.checkpoint, split=args.split)
    if data is None:
        return None
    out = args.out or osp.join(cfg.work_dir, f'features_{args.split}.npz')
    save_features(out, **data)
    print(f'wrote {out}: {len(data["pid"])} {args.split} images of '
          f'{len(np.unique(data["pid"]))} ids, features of dimension '
          f'{data["features"].shape[1]}')
    return out


if __name__ == '__main__':
    main()
