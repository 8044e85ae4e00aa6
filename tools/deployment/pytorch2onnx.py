"""Export a model's retrieval feature to ONNX: (image, modality) -> feature.

The graph takes ``inputs`` (N, 3, H, W) float32, already preprocessed (RGB,
mean / std of the config's data preprocessor), and ``modality`` (N,) int64
(0 = RGB, 1 = IR), with a dynamic batch size N, and returns ``feature``
(N, D): the head's retrieval feature, neither flip-averaged nor
L2-normalised. Preprocessing, the average with the horizontally flipped image
and the L2 normalisation stay outside the graph (``docs/en/deployment.md``
has them in a dozen lines of numpy). With ``--verify`` the file is run with
onnxruntime on random batches (sizes 1 and 3, both modalities) and compared
with PyTorch; the largest absolute difference is printed and the tool fails
if it exceeds ``--atol``.

Needs ``onnx``, ``onnxscript`` (the exporter of ``torch.onnx.export``) and,
for ``--verify``, ``onnxruntime``:
``pip install -r requirements/optional.txt``.

Example:
    python tools/deployment/pytorch2onnx.py configs/agw/agw_r50_sysu.py \\
        work_dirs/agw_r50_sysu/epoch_80.pth --out agw_r50_sysu.onnx --verify
"""
import argparse
import importlib.util
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction

from mmvireid.apis import load_weights
from mmvireid.models import RetrievalGraph
from mmvireid.registry import MODELS
from mmvireid.structures import IR, RGB

#: Batch sizes and modality mixes ``--verify`` runs.
VERIFY_MODALITIES = ((IR, ), (RGB, IR, RGB))


def parse_args(args: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the retrieval feature of a model to ONNX')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint file; without it the weights are those the model '
        'is built with (random: for trying the export)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width (default: the config\'s img_h, img_w)')
    parser.add_argument(
        '--opset', type=int, help='ONNX opset (default: the exporter\'s)')
    parser.add_argument(
        '--verify',
        action='store_true',
        help='compare onnxruntime with PyTorch on random batches')
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-4,
        help='largest absolute difference --verify accepts')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    return parser.parse_args(args)


def input_shape(cfg: Config, shape: Optional[Sequence[int]],
                config: str) -> Tuple[int, int]:
    """``--shape``, else the config's ``img_h`` / ``img_w``."""
    if shape is not None:
        return tuple(shape)
    if 'img_h' in cfg and 'img_w' in cfg:
        return cfg.img_h, cfg.img_w
    raise ValueError(f'config {config!r} sets no img_h / img_w: give the '
                     'input size with --shape H W')


def build_graph(cfg: Config, checkpoint: Optional[str],
                config: str) -> RetrievalGraph:
    """The model of ``cfg`` in eval mode (weights from ``checkpoint``),
    wrapped as the exported graph."""
    model_cfg = cfg.model.to_dict()
    # as the Runner builds it: the dataset base's preprocessor
    if 'data_preprocessor' in cfg:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_weights(model, checkpoint, config)
    model.eval()
    return RetrievalGraph(model).eval()


def export_onnx(graph: RetrievalGraph,
                out: str,
                shape: Tuple[int, int],
                opset: Optional[int] = None) -> None:
    """Export ``graph`` with a dynamic batch size to ``out``.

    Args:
        graph (RetrievalGraph): The model's retrieval feature.
        out (str): Path of the ``.onnx`` file.
        shape (tuple[int, int]): Input (H, W).
        opset (int, optional): ONNX opset; None: the exporter's default.
    """
    for package in ('onnx', 'onnxscript'):
        if importlib.util.find_spec(package) is None:
            raise ImportError(
                f'the ONNX export needs {package}: pip install -r '
                'requirements/optional.txt')
    # An example of each modality; the batch dimension is dynamic, so the
    # graph serves any batch size and mix (route_by_modality runs every
    # branch on the whole batch while the graph is captured).
    example = (torch.randn(2, 3, *shape), torch.tensor([RGB, IR]))
    batch = torch.export.Dim('batch', min=1)
    with torch.no_grad():
        program = torch.onnx.export(
            graph,
            example,
            dynamo=True,
            dynamic_shapes=({
                0: batch
            }, {
                0: batch
            }),
            input_names=['inputs', 'modality'],
            output_names=['feature'],
            opset_version=opset)
    program.save(out)


def verify_onnx(graph: RetrievalGraph,
                out: str,
                shape: Tuple[int, int],
                seed: int = 0) -> float:
    """Largest absolute difference between onnxruntime and PyTorch.

    Args:
        graph (RetrievalGraph): The exported model.
        out (str): The ``.onnx`` file.
        shape (tuple[int, int]): Input (H, W).
        seed (int): Seed of the random batches.

    Returns:
        float: max |feature_onnx - feature_torch| over the batches of
        :data:`VERIFY_MODALITIES`.
    """
    import onnxruntime
    session = onnxruntime.InferenceSession(
        out, providers=['CPUExecutionProvider'])
    gen = torch.Generator().manual_seed(seed)
    worst = 0.
    for modalities in VERIFY_MODALITIES:
        inputs = torch.randn(len(modalities), 3, *shape, generator=gen)
        modality = torch.tensor(modalities)
        got, = session.run(['feature'],
                           dict(inputs=inputs.numpy(),
                                modality=modality.numpy()))
        with torch.no_grad():
            want = graph(inputs, modality)
        worst = max(worst, (torch.from_numpy(got) - want).abs().max().item())
    return worst


def main(args: Optional[List[str]] = None) -> float:
    """Run the tool; returns the --verify difference (NaN without it)."""
    args = parse_args(args)
    if not args.out.endswith('.onnx'):
        raise ValueError(f'--out {args.out!r}: expected a .onnx path')
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config!r}: no such file')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    shape = input_shape(cfg, args.shape, args.config)
    graph = build_graph(cfg, args.checkpoint, args.config)
    export_onnx(graph, args.out, shape, args.opset)
    print(f'wrote {args.out}: inputs (N, 3, {shape[0]}, {shape[1]}) float32 '
          '+ modality (N,) int64 -> feature (N, D), N dynamic')
    if not args.verify:
        return float('nan')
    if importlib.util.find_spec('onnxruntime') is None:
        raise ImportError('--verify needs onnxruntime: pip install -r '
                          'requirements/optional.txt')
    diff = verify_onnx(graph, args.out, shape)
    print(f'onnxruntime vs PyTorch: max abs difference {diff:.3g} '
          f'(--atol {args.atol:g})')
    if diff > args.atol:
        raise RuntimeError(
            f'{args.out}: onnxruntime differs from PyTorch by {diff:.3g} '
            f'> --atol {args.atol:g}')
    return diff


if __name__ == '__main__':
    main()
