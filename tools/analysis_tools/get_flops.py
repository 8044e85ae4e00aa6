"""FLOPs, activations and parameters of a model's retrieval feature.

Counts, with MMEngine's ``get_model_complexity_info``, what extracting the
retrieval feature of one image costs: backbone, neck and head
(``VIReID.retrieval_feat``, one view; the flip test doubles it). mmpretrain's
``get_flops.py`` cannot count our models: they need the image's modality.
For a two-stream model two figures are given: eager inference (the image
goes through its modality's branches only) and the exported graph
(``tools/deployment/pytorch2onnx.py``), which runs every modality-specific
branch on every image to keep its shapes static. Parameters are those of the
whole model (both streams, and the classifier, which retrieval does not use).

Example:
    python tools/analysis_tools/get_flops.py configs/mclnet/mclnet_r50_sysu.py
    python tools/analysis_tools/get_flops.py CONFIG --shape 256 128 \\
        --modality rgb --show-table
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction

from mmvireid.models import RetrievalGraph
from mmvireid.models.utils import routing_mode
from mmvireid.registry import MODELS
from mmvireid.structures import parse_modality


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs and parameters of the retrieval feature')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width (default: the config\'s img_h, img_w)')
    parser.add_argument(
        '--modality',
        default='ir',
        help='modality of the counted image: rgb or ir (default: ir)')
    parser.add_argument(
        '--show-table',
        action='store_true',
        help='print the per-module table of eager inference')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    return parser.parse_args(args)


def retrieval_complexity(config: str,
                         shape: Optional[List[int]] = None,
                         modality: str = 'ir',
                         cfg_options: Optional[dict] = None
                         ) -> Dict[str, dict]:
    """Complexity of one image's retrieval feature.

    Args:
        config (str): Config file path.
        shape (list[int], optional): (H, W); None: the config's ``img_h``,
            ``img_w``.
        modality (str): ``'rgb'`` or ``'ir'`` (names of
            :func:`parse_modality`).
        cfg_options (dict, optional): ``--cfg-options`` overrides.

    Returns:
        dict: ``'eager'`` and, for a model that routes by modality,
        ``'exported'``: MMEngine's ``get_model_complexity_info`` results
        (``flops``, ``activations``, ``params`` and their strings,
        ``out_table``).
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config!r}: no such file')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if shape is None:
        if 'img_h' not in cfg or 'img_w' not in cfg:
            raise ValueError(f'config {config!r} sets no img_h / img_w: '
                             'give the input size with --shape H W')
        shape = (cfg.img_h, cfg.img_w)
    model = MODELS.build(cfg.model).eval()
    graph = RetrievalGraph(model).eval()
    inputs = (torch.randn(1, 3, *shape),
              torch.tensor([parse_modality(modality, '--modality')]))
    routes = {'eager': True}
    if any(
            getattr(part, 'takes_modality', False)
            for part in (model.backbone, model.neck)):
        routes['exported'] = False
    results = {}
    for name, sub_batches in routes.items():
        with routing_mode(sub_batches), torch.no_grad():
            results[name] = get_model_complexity_info(
                graph, inputs=inputs, show_table=name == 'eager',
                show_arch=False)
        results[name]['input_shape'] = (3, *shape)
    return results


def main(args: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(args)
    results = retrieval_complexity(args.config, args.shape, args.modality,
                                   args.cfg_options)
    eager = results['eager']
    split_line = '=' * 30
    print(f'{split_line}\nInput shape: {eager["input_shape"]} '
          f'({args.modality}, one view)\n'
          f'Flops: {eager["flops_str"]}\n'
          f'Params: {eager["params_str"]}\n'
          f'Activation: {eager["activations_str"]}')
    if 'exported' in results:
        exported = results['exported']
        extra = exported['flops'] / eager['flops'] - 1
        print(f'Exported graph (every modality-specific branch on every '
              f'image): Flops {exported["flops_str"]} ({extra:+.1%})')
    print(split_line)
    if args.show_table:
        print(eager['out_table'])
    return results


if __name__ == '__main__':
    main()
