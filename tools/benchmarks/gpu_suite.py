"""The GPU suite: the figures of a CUDA machine, in one run, as one JSON.

On a CUDA machine (about 8 minutes on one recent GPU, after the synthetic
data is written) it measures

1. ``clustering``: the pseudo-labels of N = 34,167 x 2048 clustered
   synthetic features (SYSU-MM01's training set), per phase, with the torch
   kNN and, when faiss has GPU support, with faiss;
2. ``spcl_id_epoch``: one SPCL-ID epoch at SYSU-MM01's size (the
   ``sysu-full`` synthetic preset, 200 iterations of 256 images) with
   ResNet-50 at 288x144 in bfloat16 and channels_last, split per phase by
   ``tools/analysis_tools/benchmark_train.py`` (clustering, iterations,
   evaluation, peak memory); its evaluation is the 10-trial SYSU-MM01
   protocol on the test split (3,803 queries);
3. ``mclnet``: MCLNet's training images/s in bfloat16 at 4 x (4 + 4) and at
   the largest batch that fits (ids doubled until CUDA runs out of memory
   or ``--max-batch`` is reached).

The models train from scratch (``init_cfg=None``: the machine needs no
network). The synthetic images are written at 32x16 (``--img-size``) and
resized to 288x144 by the configs' pipelines, so their decoding costs less
than real images'. ``--data-root`` points it at an existing SYSU-MM01-layout
tree (the real dataset, or one written before) instead.

``--smoke`` runs every part at a toy size (a few hundred images, one timed
iteration, the ResNet-18 synthetic configs at 32x16, float32 and CPU when
there is no GPU), so that the test suite runs it end to end on CPU and the
script cannot rot.

Example::

    python tools/benchmarks/gpu_suite.py --out work_dirs/gpu_suite.json
    python tools/benchmarks/gpu_suite.py --smoke --out /tmp/smoke.json
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import List, Optional

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))

import benchmark_train  # noqa: E402

CONFIGS = osp.join(REPO, 'configs')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--smoke',
        action='store_true',
        help='toy sizes, a few seconds on CPU (the test suite runs this)')
    parser.add_argument(
        '--data-root',
        help='a SYSU-MM01-layout tree (default: write the sysu-full preset)')
    parser.add_argument(
        '--img-size',
        type=int,
        nargs=2,
        default=(32, 16),
        metavar=('H', 'W'),
        help='size of the synthetic images written (default 32 16)')
    parser.add_argument(
        '--max-batch',
        type=int,
        default=2048,
        help='largest MCLNet batch tried (default 2048 images)')
    parser.add_argument(
        '--work-dir', help='where the data and the runs go (default: tmp)')
    parser.add_argument('--out', help='also write the JSON here')
    return parser.parse_args(argv)


def sizes(smoke: bool) -> dict:
    """Everything the smoke run makes small."""
    if smoke:
        return dict(
            spcl_id=osp.join(CONFIGS, 'spcl_id',
                             'spcl_id_r18_synthetic_sysu.py'),
            mclnet=osp.join(CONFIGS, 'mclnet', 'mclnet_r18_synthetic_sysu.py'),
            num_features=600,
            dim=64,
            preset_scale=1 / 128,
            iters=1,
            warmup=1,
            train_size=(32, 16),
            mclnet_batches=[(2, 2), (3, 2)],
            num_pids=2,
            num_instances=4,
            # a toy memory: every slot a negative
            spcl_options={'model.head.loss_instance.num_negatives': None})
    return dict(
        spcl_id=osp.join(CONFIGS, 'spcl_id', 'spcl_id_r50_sysu.py'),
        mclnet=osp.join(CONFIGS, 'mclnet', 'mclnet_r50_sysu.py'),
        num_features=34167,
        dim=2048,
        preset_scale=1.0,
        iters=195,
        warmup=5,
        train_size=(288, 144),
        mclnet_batches=None,
        num_pids=8,
        num_instances=16,
        spcl_options={})


def clustered_features(num: int, dim: int, seed: int = 0) -> torch.Tensor:
    """Unit identity centres (56 images each) plus noise, L2-normalised, as
    ``benchmark_clustering.py`` draws them."""
    rng = np.random.default_rng(seed)
    ids = np.arange(num) // 56
    centres = rng.standard_normal((ids.max() + 1, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((num, dim)).astype(np.float32)
    noise *= 4.0 / np.sqrt(dim)
    feats = centres[ids] + noise
    return torch.from_numpy(feats / np.linalg.norm(feats, axis=1,
                                                   keepdims=True))


def bench_clustering(size: dict, device: torch.device) -> dict:
    """Phases of the pseudo-labels with each available kNN backend."""
    from mmvireid.clustering import pseudo_labels
    feats = clustered_features(size['num_features'], size['dim']).to(device)
    backends = ['torch']
    try:
        import faiss
        if device.type != 'cuda' or faiss.get_num_gpus() > 0:
            backends.append('faiss')
    except ImportError:
        pass
    out = dict(num=feats.shape[0], dim=feats.shape[1], device=str(device))
    for backend in backends:
        labels, timings = pseudo_labels(feats, k1=30, k2=6, eps=0.6,
                                        min_samples=4, knn_backend=backend)
        out[backend] = dict({k: round(v, 3)
                             for k, v in timings.items()},
                            num_clusters=int(labels.max()) + 1,
                            outliers=int((labels < 0).sum()))
    return out


def write_data(size: dict, args: argparse.Namespace, work_dir: str) -> tuple:
    """The SYSU-MM01-layout tree and the seconds it took to write."""
    if args.data_root:
        return args.data_root, 0.0
    from mmvireid.testing import make_synthetic_vireid, preset_kwargs
    start = time.perf_counter()
    root = make_synthetic_vireid(
        osp.join(work_dir, 'data'),
        img_size=tuple(args.img_size),
        overwrite=True,
        **preset_kwargs('sysu-full', size['preset_scale']))
    return root, round(time.perf_counter() - start, 1)


def train_args(config: str, data_root: str, size: dict, work_dir: str,
               device: torch.device, options: dict, **kw) -> list:
    """The command line of a ``benchmark_train`` run."""
    argv = [
        config, '--data-root', data_root, '--work-dir', work_dir, '--iters',
        str(kw.get('iters', size['iters'])), '--warmup',
        str(kw.get('warmup', size['warmup']))
    ]
    argv += ['--img-size', *map(str, size['train_size'])]
    if device.type == 'cuda':
        argv += ['--bf16', '--channels-last']
    if kw.get('no_eval'):
        argv.append('--no-eval')
    options = dict(options, **{'model.backbone.backbone.init_cfg': None})
    argv += ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]
    return argv


def bench_spcl_epoch(data_root: str, size: dict, work_dir: str,
                     device: torch.device) -> dict:
    """One SPCL-ID epoch with the split of ``benchmark_train``."""
    options = dict(
        size['spcl_options'], **{
            'train_dataloader.sampler.num_pids': size['num_pids'],
            'train_dataloader.sampler.num_instances': size['num_instances'],
            'train_dataloader.batch_size':
            2 * size['num_pids'] * size['num_instances'],
        })
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    config = size['spcl_id']
    args = benchmark_train.parse_args(
        train_args(config, data_root, size, work_dir, device, options))
    return benchmark_train.run_training(args, config)


def bench_mclnet(data_root: str, size: dict, work_dir: str,
                 device: torch.device, max_batch: int) -> dict:
    """MCLNet's training images/s at 4 x (4 + 4) and at the largest batch
    that fits."""
    batches = size['mclnet_batches'] or [(4, 4)] + [
        (ids, 4) for ids in (8, 16, 32, 64, 128, 256) if ids * 8 <= max_batch
    ]
    out = dict(batches=[])
    for num_pids, num_instances in batches:
        batch = 2 * num_pids * num_instances
        options = {
            'train_dataloader.sampler.num_pids': num_pids,
            'train_dataloader.sampler.num_instances': num_instances,
            'train_dataloader.batch_size': batch,
        }
        args = benchmark_train.parse_args(
            train_args(size['mclnet'], data_root, size, work_dir, device,
                       options, iters=max(1, size['iters'] // 20), warmup=1,
                       no_eval=True))
        if device.type == 'cuda':
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        try:
            run = benchmark_train.run_training(args, size['mclnet'])
        except torch.cuda.OutOfMemoryError:
            out['out_of_memory_at'] = batch
            break
        out['batches'].append(
            dict(batch=batch,
                 images_per_s=run['iteration']['images_per_s'],
                 iteration_s=run['iteration']['total'],
                 peak_cuda_mib=run.get('peak_cuda_mib')))
    out['largest_batch'] = out['batches'][-1]['batch']
    return out


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    from mmvireid.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    size = sizes(args.smoke)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='gpu_suite_')
    start = time.perf_counter()
    result = dict(smoke=args.smoke, machine=benchmark_train.machine())
    data_root, result['data_write_s'] = write_data(size, args, work_dir)
    suite_start = time.perf_counter()
    result['clustering'] = bench_clustering(size, device)
    result['spcl_id_epoch'] = bench_spcl_epoch(data_root, size, work_dir,
                                               device)
    result['mclnet'] = bench_mclnet(data_root, size, work_dir, device,
                                    args.max_batch)
    result['suite_s'] = round(time.perf_counter() - suite_start, 1)
    result['total_s'] = round(time.perf_counter() - start, 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return result


if __name__ == '__main__':
    main()
