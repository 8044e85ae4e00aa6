"""Time feature extraction with the two routings of a two-stream model.

Eager inference routes every image through its modality's stream as one
sub-batch per modality; a captured graph (``torch.export`` / ONNX) runs every
stream on the whole batch and keeps each image's rows
(:func:`mmvireid.models.utils.route_by_modality`). This script builds the
model of a config (random weights, eval mode) and extracts the retrieval
feature of the image and of its flip, as ``VIReID.predict`` does, on random
batches in both ways, alternating them ``--repeat`` times, and prints the
images per second of the fastest run of each (wall and CPU time) and their
ratio. Batches mix the modalities half and half (``--mix half``) or hold one
modality (``--mix one``, as a gallery or query set sorted by modality
gives). ``tools/analysis_tools/get_flops.py`` counts the FLOPs of both::

    python tools/analysis_tools/benchmark_routing.py \\
        configs/mclnet/mclnet_r18_synthetic_sysu.py --shape 64 32
"""
import argparse
import time

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmvireid.models.utils import routing_mode
from mmvireid.registry import MODELS
from mmvireid.structures import IR


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config of a two-stream model')
    parser.add_argument(
        '--shape', type=int, nargs=2, default=(288, 144), help='H W')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-batches', type=int, default=4)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--mix', choices=('half', 'one'), default='half')
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args()


def extract(model, batches):
    """Features of every batch and of its flip, as ``VIReID.predict``."""
    with torch.no_grad():
        for inputs, modality in batches:
            model.retrieval_feat(inputs, modality)
            model.retrieval_feat(inputs.flip(3), modality)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    MMLogger.get_instance('benchmark_routing', log_level='WARNING')
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    torch.manual_seed(0)
    batches = []
    for _ in range(args.num_batches):
        inputs = torch.randn(args.batch_size, 3, *args.shape)
        if args.mix == 'half':
            modality = torch.arange(args.batch_size) % 2
        else:
            modality = torch.full((args.batch_size, ), IR)
        batches.append((inputs, modality))
    extract(model, batches[:1])  # warm-up
    names = ('sub_batches', 'whole_batch')
    wall = dict.fromkeys(names, float('inf'))
    cpu = dict.fromkeys(names, float('inf'))
    for i in range(args.repeat):
        # alternate which goes first, against drifts of a shared machine
        for name in names[::1 if i % 2 == 0 else -1]:
            # the whole-batch routing is the one graph capture takes
            with routing_mode(sub_batches=name == 'sub_batches'):
                start, start_cpu = time.perf_counter(), time.process_time()
                extract(model, batches)
                wall[name] = min(wall[name], time.perf_counter() - start)
                cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    num_images = args.batch_size * args.num_batches
    print(f'{args.config}: {num_images} images {args.shape[0]}x'
          f'{args.shape[1]} (+ flips), batch {args.batch_size}, modalities '
          f'{"RGB/IR half and half" if args.mix == "half" else "IR only"}, '
          f'{args.threads} thread(s), best of {args.repeat}')
    for name in names:
        print(f'  {name:12s} {num_images / wall[name]:8.1f} images/s '
              f'({num_images / cpu[name]:.1f} per CPU second)')
    print(f'  sub-batches / whole batch: '
          f'{wall["whole_batch"] / wall["sub_batches"]:.3f}x the speed '
          f'({cpu["whole_batch"] / cpu["sub_batches"]:.3f}x in CPU time)')


if __name__ == '__main__':
    main()
