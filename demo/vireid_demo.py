"""Rank a folder of gallery images for every image of a query folder.

The queries are of one modality (e.g. infrared night-camera crops), the
gallery of the other; every image goes through the config's test pipeline
and the model's flip-averaged, L2-normalised feature
(:func:`mmvireid.apis.inference_model`), and the gallery is ranked by the
distance ``1 - cos`` the metric uses. Written to ``--out-dir``:

- ``ranked_lists.csv``: ``query,rank,gallery,distance``, the top ``--topk``
  gallery images of every query (paths relative to their folders);
- ``ranked_lists.png``: a row per query (the first ``--max-rows``): the
  query framed blue and its top ``--topk`` gallery images framed grey (the
  identities are unknown), with rank and distance.

Example:
    python demo/vireid_demo.py night_crops/ day_crops/ \\
        configs/agw/agw_r50_sysu.py work_dirs/agw_r50_sysu/epoch_80.pth \\
        --query-modality ir --topk 10 --out-dir demo_out/
"""
import argparse
import csv
import os
import os.path as osp
from typing import List, Optional

import mmcv
import torch
from mmengine.config import DictAction

from mmvireid.apis import inference_model, init_model
from mmvireid.structures import IR, MODALITY_NAMES, RGB, parse_modality
from mmvireid.visualization import VIReIDVisualizer, stack_rows

#: Files read as images.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Rank a gallery folder for every image of a query '
        'folder (cross-modality)')
    parser.add_argument('query_dir', help='folder of query images')
    parser.add_argument('gallery_dir', help='folder of gallery images')
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--query-modality',
        default='ir',
        help='modality of the query images: ir (infrared, thermal, nir) or '
        'rgb (visible); the gallery is of the other (default: ir)')
    parser.add_argument('--topk',
                        type=int,
                        default=10,
                        help='gallery images per query (default: 10)')
    parser.add_argument(
        '--max-rows',
        type=int,
        default=20,
        help='queries drawn in the PNG; the CSV lists all (default: 20)')
    parser.add_argument('--out-dir',
                        default='demo_out',
                        help='output folder (default: demo_out)')
    parser.add_argument('--device', default='cpu', help='e.g. cuda:0')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--img-size',
                        type=int,
                        nargs=2,
                        default=(128, 64),
                        metavar=('H', 'W'),
                        help='thumbnail size in the PNG (default: 128 64)')
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='override config settings, key=value pairs')
    parsed = parser.parse_args(args)
    for name in ('topk', 'max_rows', 'batch_size'):
        if getattr(parsed, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    try:
        parsed.query_modality = parse_modality(parsed.query_modality,
                                               '--query-modality')
    except ValueError as error:
        parser.error(str(error))
    return parsed


def list_images(folder: str) -> List[str]:
    """Image files under ``folder`` (subfolders included), sorted."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder!r} is not a folder')
    paths = sorted(
        osp.join(root, name) for root, _, names in os.walk(folder)
        for name in names if name.lower().endswith(IMG_EXTENSIONS))
    if not paths:
        raise ValueError(f'{folder!r} holds no image ({IMG_EXTENSIONS})')
    return paths


def main(args: Optional[List[str]] = None) -> dict:
    """Run the demo; returns the paths written (``csv``, ``png``)."""
    args = parse_args(args)
    queries = list_images(args.query_dir)
    gallery = list_images(args.gallery_dir)
    q_modality = args.query_modality
    g_modality = RGB if q_modality == IR else IR
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    q_feats = inference_model(model, queries, q_modality, args.batch_size)
    g_feats = inference_model(model, gallery, g_modality, args.batch_size)
    distances = (1 - q_feats @ g_feats.T).cpu()
    topk = min(args.topk, len(gallery))
    ranked_dist, ranked = torch.topk(distances, topk, dim=1, largest=False)
    print(f'{len(queries)} {MODALITY_NAMES[q_modality]} queries, '
          f'{len(gallery)} {MODALITY_NAMES[g_modality]} gallery images')

    os.makedirs(args.out_dir, exist_ok=True)
    csv_file = osp.join(args.out_dir, 'ranked_lists.csv')
    with open(csv_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['query', 'rank', 'gallery', 'distance'])
        for q, (index, dist) in enumerate(zip(ranked.tolist(),
                                              ranked_dist.tolist())):
            for rank, (g, d) in enumerate(zip(index, dist), 1):
                writer.writerow([
                    osp.relpath(queries[q], args.query_dir), rank,
                    osp.relpath(gallery[g], args.gallery_dir), f'{d:.6f}'
                ])

    visualizer = VIReIDVisualizer(name='vireid_demo',
                                  img_size=tuple(args.img_size))
    rows = []
    for q in range(min(args.max_rows, len(queries))):
        index = ranked[q].tolist()
        rows.append(
            visualizer.visualize_ranked_list(
                mmcv.imread(queries[q], channel_order='rgb'),
                [mmcv.imread(gallery[g], channel_order='rgb')
                 for g in index],
                None,
                ranked_dist[q].tolist(),
                query_text=osp.basename(queries[q]),
                gallery_texts=[osp.basename(gallery[g]) for g in index],
                header=f'query {q + 1}/{len(queries)}: '
                f'{osp.relpath(queries[q], args.query_dir)}'))
    png_file = osp.join(args.out_dir, 'ranked_lists.png')
    mmcv.imwrite(mmcv.rgb2bgr(stack_rows(rows)), png_file)
    print(f'wrote {csv_file} and {png_file}')
    return dict(csv=csv_file, png=png_file)


if __name__ == '__main__':
    main()
