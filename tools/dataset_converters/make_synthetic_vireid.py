"""Write synthetic VI-ReID datasets in the official on-disk layouts.

The trees are read by the real loaders (``SYSUMM01Dataset``, ``RegDBDataset``,
``LLCMDataset``); see :func:`mmvireid.testing.make_synthetic_vireid`.

Example:
    python tools/dataset_converters/make_synthetic_vireid.py \\
        --layout all --out data/synthetic
    # -> data/synthetic/SYSU-MM01, data/synthetic/RegDB, data/synthetic/LLCM
"""
import argparse
from typing import List, Optional

from mmvireid.testing import LAYOUTS, make_synthetic_vireid


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write synthetic VI-ReID datasets in the official '
        'SYSU-MM01 / RegDB / LLCM layouts')
    parser.add_argument(
        '--layout',
        choices=[*LAYOUTS, 'all'],
        default='all',
        help='layout to write (default: all)')
    parser.add_argument(
        '--out',
        default='data/synthetic',
        help='folder to write the dataset roots in (default: data/synthetic)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--num-train-ids', type=int, default=32, help='training ids')
    parser.add_argument(
        '--num-test-ids', type=int, default=32, help='test ids (default: 32)')
    parser.add_argument(
        '--num-imgs-per-cam',
        type=int,
        default=8,
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
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    layouts = list(LAYOUTS) if args.layout == 'all' else [args.layout]
    for layout in layouts:
        root = make_synthetic_vireid(
            args.out,
            layout,
            seed=args.seed,
            num_train_ids=args.num_train_ids,
            num_test_ids=args.num_test_ids,
            num_imgs_per_cam=args.num_imgs_per_cam,
            img_size=tuple(args.img_size),
            overwrite=args.overwrite)
        print(f'{layout}: wrote {root}')


if __name__ == '__main__':
    main()
