"""Write synthetic VI-ReID datasets in the official on-disk layouts.

The trees are read by the real loaders (``SYSUMM01Dataset``, ``RegDBDataset``,
``LLCMDataset``); see :func:`mmvireid.testing.make_synthetic_vireid`.

Example:
    python tools/dataset_converters/make_synthetic_vireid.py \\
        --layout all --out data/synthetic
    # -> data/synthetic/SYSU-MM01, data/synthetic/RegDB, data/synthetic/LLCM
    # SYSU-MM01's id and image counts (34,167 training images) at 32x16
    python tools/dataset_converters/make_synthetic_vireid.py \\
        --preset sysu-full --img-size 32 16 --out data/sysu_full
    # the same at 1/32 of the size (1,068 training images)
    python tools/dataset_converters/make_synthetic_vireid.py \\
        --preset sysu-full --scale 0.03125 --img-size 32 16 --out data/sysu_1k
"""
import argparse
from typing import List, Optional

from mmvireid.testing import (LAYOUTS, PRESETS, make_synthetic_vireid,
                              preset_kwargs)

#: The tree's arguments a preset sets (given with --preset: an error).
PRESET_ARGS = ('layout', 'num_train_ids', 'num_test_ids', 'num_imgs_per_cam')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write synthetic VI-ReID datasets in the official '
        'SYSU-MM01 / RegDB / LLCM layouts')
    parser.add_argument(
        '--layout',
        choices=[*LAYOUTS, 'all'],
        help='layout to write (default: all)')
    parser.add_argument(
        '--preset',
        choices=sorted(PRESETS),
        help='the id and image counts of an official release (sets the '
        'layout, ids and images)')
    parser.add_argument(
        '--scale',
        type=float,
        default=1.0,
        help='with --preset: factor on every id and image count, in (0, 1] '
        '(default: 1)')
    parser.add_argument(
        '--out',
        default='data/synthetic',
        help='folder to write the dataset roots in (default: data/synthetic)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--num-train-ids', type=int, help='training ids (default: 32)')
    parser.add_argument(
        '--num-test-ids', type=int, help='test ids (default: 32)')
    parser.add_argument(
        '--num-imgs-per-cam',
        type=int,
        help='images per id per camera (SYSU-MM01, LLCM; RegDB has 10 per '
        'id per modality; default: 8)')
    parser.add_argument(
        '--img-size',
        type=int,
        nargs=2,
        default=(128, 64),
        metavar=('H', 'W'),
        help='image height and width (default: 128 64)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing, non-empty dataset roots')
    args = parser.parse_args(argv)
    if args.preset is not None:
        given = [
            '--' + name.replace('_', '-') for name in PRESET_ARGS
            if getattr(args, name) is not None
        ]
        if given:
            parser.error(f'--preset {args.preset} sets the layout, ids and '
                         f'images; drop {", ".join(given)}')
    elif args.scale != 1.0:
        parser.error('--scale scales a --preset')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.preset is not None:
        trees = [preset_kwargs(args.preset, args.scale)]
    else:
        layout = args.layout or 'all'
        trees = [
            dict(
                layout=name,
                num_train_ids=args.num_train_ids or 32,
                num_test_ids=args.num_test_ids or 32,
                num_imgs_per_cam=args.num_imgs_per_cam or 8)
            for name in (list(LAYOUTS) if layout == 'all' else [layout])
        ]
    for kwargs in trees:
        root = make_synthetic_vireid(
            args.out,
            seed=args.seed,
            img_size=tuple(args.img_size),
            overwrite=args.overwrite,
            **kwargs)
        print(f'{kwargs["layout"]}: wrote {root}')


if __name__ == '__main__':
    main()
