"""Grad-CAM of a query image: where its ReID feature comes from.

mmpretrain's ``tools/visualization/vis_cam.py`` explains a classifier's
class score with the ``grad-cam`` package and cannot run a VI-ReID model
(it needs a modality per image and has no class to explain). This draws
:func:`mmvireid.visualization.grad_cam` of the query's retrieval feature:
of its match with a target image of the other modality (``--target``,
score ``cos(f_query, f_target)``), or of the feature's norm. The PNG shows
the query as the model sees it (resized), the heat map over it and the
target.

Example:
    python tools/analysis_tools/vis_cam.py configs/agw/agw_r50_sysu.py \\
        work_dirs/agw_r50_sysu/epoch_80.pth query_ir.jpg --modality ir \\
        --target gallery_rgb.jpg --out cam.png
    # another layer of the two-stream ResNet
    python tools/analysis_tools/vis_cam.py CONFIG CKPT query.jpg \\
        --modality ir --layer backbone.shared.layer3
"""
import argparse
from typing import List, Optional

import mmcv
import numpy as np
from mmengine.config import DictAction

from mmvireid.apis import inference_model, init_model, prepare_batch
from mmvireid.structures import IR, RGB, parse_modality
from mmvireid.visualization import grad_cam, overlay_cam


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Grad-CAM of the ReID feature of a query image')
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('image', help='the query image')
    parser.add_argument('--modality',
                        required=True,
                        help='modality of the query: ir or rgb')
    parser.add_argument(
        '--target',
        help='explain the match with this image (of the other modality '
        'unless --target-modality says otherwise) instead of the feature '
        'norm')
    parser.add_argument('--target-modality',
                        help='modality of --target (default: the other)')
    parser.add_argument(
        '--layer',
        help='module whose output is explained, e.g. '
        'backbone.shared.layer3 (default: the backbone output)')
    parser.add_argument('--out', default='cam.png', help='output PNG')
    parser.add_argument('--device', default='cpu', help='e.g. cuda:0')
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='override config settings, key=value pairs')
    parsed = parser.parse_args(args)
    try:
        parsed.modality = parse_modality(parsed.modality, '--modality')
        parsed.target_modality = (
            RGB if parsed.modality == IR else IR
        ) if parsed.target_modality is None else parse_modality(
            parsed.target_modality, '--target-modality')
    except ValueError as error:
        parser.error(str(error))
    return parsed


def main(args: Optional[List[str]] = None) -> np.ndarray:
    """Run the tool; returns the CAM, (H, W) in [0, 1]."""
    args = parse_args(args)
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    batch = prepare_batch(model, args.image, args.modality)
    target = None if args.target is None else inference_model(
        model, args.target, args.target_modality)
    cam = grad_cam(model, batch['inputs'], batch['modality'], target,
                   args.layer)[0].cpu().numpy()
    height, width = cam.shape
    query = mmcv.imresize(mmcv.imread(args.image, channel_order='rgb'),
                          (width, height))
    panels = [query, overlay_cam(query, cam)]
    if args.target is not None:
        panels.append(
            mmcv.imresize(mmcv.imread(args.target, channel_order='rgb'),
                          (width, height)))
    picture = np.concatenate(panels, axis=1)
    mmcv.imwrite(mmcv.rgb2bgr(picture), args.out)
    what = 'the match with ' + args.target if args.target else \
        'the feature norm'
    print(f'Grad-CAM of {what} at '
          f'{args.layer or "the backbone output"}: wrote {args.out}')
    return cam


if __name__ == '__main__':
    main()
