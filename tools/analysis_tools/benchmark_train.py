"""Benchmark training: the cost of every phase of an epoch, as one JSON.

Two modes.

``train`` (default): for each config, in a process of its own (so that its
peak memory is its own), builds MMEngine's runner as ``tools/train.py`` does
and trains one epoch (``--epoch``, 0 by default: the epoch the schedules
see, e.g. SPCL-ID's λ) of ``--warmup + --iters`` iterations, with the
unsupervised configs' clustering before it and one evaluation after it
(``--no-eval`` skips it). It reports

- ``iteration``: medians over the ``--iters`` timed iterations (seconds):
  ``data`` (waiting for the loader), ``preprocess`` (data preprocessor),
  ``forward`` (backbone and neck), ``head`` (the head's losses), ``backward``
  (without the memory update it triggers), ``memory_update``,
  ``optimizer`` (step and zero_grad), ``other`` (hooks, logging) and
  ``total``; and the loader's own throughput (``loader_images_per_s``,
  iterated alone afterwards);
- ``clustering``: ``extraction_s`` and ``extraction_images_per_s`` of the
  training set, the phases of each modality's pseudo-labels (``knn``,
  ``reciprocal``, ``encoding``, ``jaccard``, ``dbscan``), the whole
  clustering with the association (``cluster_s``) and the memory reset;
- ``evaluation``: ``total_s``, ``metric_s`` and the test split's extraction
  (``extraction_images_per_s``);
- ``peak_rss_mib`` (``ru_maxrss`` of the process), the largest of its
  child processes (``peak_rss_children_mib``: data-loader workers) and, on
  CUDA, ``peak_cuda_mib``.

``head``: the step of the heads of the given configs alone at a chosen
size (SYSU-MM01's by default: 22,258 RGB + 11,909 IR instance slots, 898 /
444 clusters, batches of 8 pseudo-identities x 16 images per modality),
memories filled with random unit features: forward (the losses), backward
and the memory update, the configs' steps interleaved in one process so
that a busy machine slows them alike; medians of wall and CPU seconds and
their ratios to the first config.

The machine's load average and thread count are recorded with the results:
on a shared machine, compare the configs of one run (ratios), and read the
CPU seconds (all threads of the process) beside the wall seconds.

Example::

    # SYSU-MM01-sized synthetic data at 32x16
    python tools/dataset_converters/make_synthetic_vireid.py \\
        --preset sysu-full --img-size 32 16 --out data/sysu_full
    python tools/analysis_tools/benchmark_train.py \\
        configs/cluster_contrast/cluster_contrast_r50_sysu.py \\
        configs/spcl_id/spcl_id_r50_sysu.py \\
        --data-root data/sysu_full/SYSU-MM01 --img-size 32 16 --iters 10 \\
        --epoch 10 --cfg-options model.backbone.backbone.init_cfg=None \\
        --out work_dirs/benchmark_train.json
    python tools/analysis_tools/benchmark_train.py --mode head \\
        configs/cluster_contrast/cluster_contrast_r50_sysu.py \\
        configs/spcl_id/spcl_id_r50_sysu.py --iters 20
"""
import argparse
import functools
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config, DictAction

#: Per-iteration phases of the ``train`` mode, in their order.
PHASES = ('data', 'preprocess', 'forward', 'head', 'backward',
          'memory_update', 'optimizer', 'other', 'total')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--mode', choices=['train', 'head'], default='train')
    parser.add_argument(
        '--iters', type=int, default=10, help='timed iterations (default 10)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=2,
        help='iterations run first and not timed (default 2)')
    parser.add_argument(
        '--data-root', help='data_root of the train / val / test datasets')
    parser.add_argument(
        '--img-size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='rewrite the Resize / RandomCrop sizes of every pipeline')
    parser.add_argument(
        '--no-eval', action='store_true', help='skip the evaluation')
    parser.add_argument(
        '--bf16',
        action='store_true',
        help='the model under bfloat16 autocast (model.autocast_dtype)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='the model in channels_last (model.channels_last)')
    parser.add_argument(
        '--threads',
        type=int,
        help='torch threads (default: torch\'s choice)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of every config, key=value pairs')
    parser.add_argument(
        '--work-dir', help='work dir of the runs (default: a temporary one)')
    parser.add_argument('--out', help='also write the JSON here')
    # head mode: the memory's size
    parser.add_argument(
        '--num-images',
        type=int,
        nargs=2,
        default=(22258, 11909),
        metavar=('RGB', 'IR'),
        help='head mode: instance slots per modality (SYSU-MM01)')
    parser.add_argument(
        '--num-clusters',
        type=int,
        nargs=2,
        default=(898, 444),
        metavar=('RGB', 'IR'),
        help='head mode: clusters per modality')
    parser.add_argument(
        '--batch',
        type=int,
        nargs=2,
        default=(8, 16),
        metavar=('IDS', 'INSTANCES'),
        help='head mode: pseudo-identities x instances per modality')
    parser.add_argument(
        '--epoch',
        type=float,
        help='the epoch trained (train mode, an int; default 0) or handed to '
        'the heads\' set_epoch (head mode; default: half of the ramp, '
        'lambda = 0.5 with a linear ramp)')
    parser.add_argument('--child-out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ------------------------------------------------------------- helpers --
def machine() -> dict:
    """What the figures depend on: threads, load, versions, device."""
    return dict(
        threads=torch.get_num_threads(),
        cpus=os.cpu_count(),
        load_average=[round(v, 2) for v in os.getloadavg()],
        torch=torch.__version__,
        device=torch.cuda.get_device_name()
        if torch.cuda.is_available() else 'cpu')


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size (``ru_maxrss``, KiB on Linux) in MiB."""
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class Stopwatch:
    """Sums of wall seconds per name while ``active``; wraps callables."""

    def __init__(self):
        self.active = False
        self.sums: Dict[str, float] = {}

    def wrap(self, name: str, fn: Callable) -> Callable:

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if not self.active:
                return fn(*args, **kwargs)
            synchronize()
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                synchronize()
                self.sums[name] = self.sums.get(name, 0.0) + \
                    time.perf_counter() - start

        return timed

    def pop(self) -> Dict[str, float]:
        sums, self.sums = self.sums, {}
        return sums


def median(values: List[float]) -> float:
    return round(statistics.median(values), 4) if values else 0.0


def rewrite_sizes(cfg, size) -> None:
    """Set every ``Resize`` scale and ``RandomCrop`` size of ``cfg`` (any
    depth) to ``size`` = (H, W)."""
    h, w = size

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') == 'Resize' and 'scale' in node:
                node['scale'] = (w, h)
            if node.get('type') == 'RandomCrop' and 'crop_size' in node:
                node['crop_size'] = (h, w)
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg._cfg_dict)


# ---------------------------------------------------------- train mode --
def train_config(args: argparse.Namespace, config: str, work_dir: str):
    """The config of a benchmark run: one epoch of warmup + iters
    iterations, one evaluation, no checkpoint."""
    from mmvireid.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if args.data_root and cfg.get(field):
            cfg[field].dataset.data_root = args.data_root
    if args.img_size:
        rewrite_sizes(cfg, args.img_size)
    if args.bf16:
        cfg.model.autocast_dtype = 'bfloat16'
    if args.channels_last:
        cfg.model.channels_last = True
    cfg.train_dataloader.sampler.iters_per_epoch = args.warmup + args.iters
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg = dict(
        by_epoch=True, max_epochs=int(args.epoch or 0) + 1, val_interval=1)
    if args.no_eval:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.param_scheduler = None
    return cfg


def run_training(args: argparse.Namespace, config: str) -> dict:
    """One benchmark run of ``config`` in this process."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    from mmpretrain.utils import get_ori_model

    import mmvireid.clustering.cross_modal as cross_modal
    import mmvireid.engine.hooks.clustering_hook as clustering_hook
    from mmvireid.models.memories import CrossModalMemory

    work_dir = args.work_dir or tempfile.mkdtemp(prefix='benchmark_train_')
    cfg = train_config(args, config,
                       osp.join(work_dir, osp.splitext(
                           osp.basename(config))[0]))
    runner = Runner.from_cfg(cfg)
    watch = Stopwatch()
    iterations: List[Dict[str, float]] = []
    result = dict(config=config, machine=machine())
    clustering = {}
    evaluation = {}

    # the clustering: extraction, each modality's phases, the memory reset
    extract = clustering_hook.extract_features
    modality_labels = cross_modal.modality_pseudo_labels
    pseudo_labels = clustering_hook.cross_modal_pseudo_labels

    def timed_extract(model, loader, *a, **kw):
        start = time.perf_counter()
        out = extract(model, loader, *a, **kw)
        synchronize()
        seconds = time.perf_counter() - start
        clustering.update(
            extraction_s=round(seconds, 3),
            extraction_images_per_s=round(len(loader.dataset) / seconds, 1))
        return out

    def timed_modality(*a, **kw):
        labels, timings = modality_labels(*a, **kw)
        clustering.setdefault('phases', []).append(
            {k: round(v, 3)
             for k, v in timings.items()})
        return labels, timings

    def timed_pseudo_labels(*a, **kw):
        start = time.perf_counter()
        out = pseudo_labels(*a, **kw)
        clustering['cluster_s'] = round(time.perf_counter() - start, 3)
        clustering['num_clusters'] = [
            out.stats.get('num_clusters_rgb'),
            out.stats.get('num_clusters_ir')
        ]
        return out

    clustering_hook.extract_features = timed_extract
    cross_modal.modality_pseudo_labels = timed_modality
    clustering_hook.cross_modal_pseudo_labels = timed_pseudo_labels

    class BenchmarkHook(Hook):
        """Wraps the phases once the loops and the optimizer exist."""
        priority = 'VERY_LOW'

        def before_train(self, runner):
            # train epoch --epoch only (its schedules: lambda of SPCL-ID)
            runner.train_loop._epoch = int(args.epoch or 0)
            model = get_ori_model(runner.model)
            model.data_preprocessor.forward = watch.wrap(
                'preprocess', model.data_preprocessor.forward)
            model.extract_feat = watch.wrap('forward', model.extract_feat)
            model.head.loss = watch.wrap('head', model.head.loss)
            for module in model.modules():
                if isinstance(module, CrossModalMemory):
                    module.apply_update = watch.wrap('memory_update',
                                                     module.apply_update)
                    module.reset = timed_reset(module.reset)
            wrapper = runner.optim_wrapper
            wrapper.backward = watch.wrap('backward', wrapper.backward)
            wrapper.step = watch.wrap('optimizer', wrapper.step)
            wrapper.zero_grad = watch.wrap('optimizer_zero_grad',
                                           wrapper.zero_grad)
            loop = runner.train_loop
            loop.run_iter = timed_iteration(loop.run_iter)
            if runner.val_loop is not None and not args.no_eval:
                val_loop = runner.val_loop
                val_loop.evaluator.evaluate = timed_metric(
                    val_loop.evaluator.evaluate)
                val_loop.run = timed_evaluation(val_loop.run)

        def before_train_epoch(self, runner):
            self.last = time.perf_counter()

    hook = BenchmarkHook()

    def timed_reset(fn):

        @functools.wraps(fn)
        def timed(*a, **kw):
            start = time.perf_counter()
            out = fn(*a, **kw)
            clustering['memory_reset_s'] = round(
                time.perf_counter() - start, 3)
            return out

        return timed

    def timed_iteration(fn):

        @functools.wraps(fn)
        def timed(idx, data_batch):
            data = time.perf_counter() - hook.last
            watch.active = True
            synchronize()
            start = time.perf_counter()
            out = fn(idx, data_batch)
            synchronize()
            total = time.perf_counter() - start
            watch.active = False
            sums = watch.pop()
            sums['optimizer'] = sums.get('optimizer', 0.0) + sums.pop(
                'optimizer_zero_grad', 0.0)
            sums['backward'] = sums.get('backward', 0.0) - sums.get(
                'memory_update', 0.0)
            sums['data'] = data
            sums['total'] = total
            sums['other'] = total - sum(
                v for k, v in sums.items() if k not in ('data', 'total'))
            iterations.append(sums)
            hook.last = time.perf_counter()
            return out

        return timed

    def timed_metric(fn):

        @functools.wraps(fn)
        def timed(*a, **kw):
            start = time.perf_counter()
            out = fn(*a, **kw)
            evaluation['metric_s'] = round(time.perf_counter() - start, 3)
            return out

        return timed

    def timed_evaluation(fn):

        @functools.wraps(fn)
        def timed(*a, **kw):
            start = time.perf_counter()
            out = fn(*a, **kw)
            evaluation['total_s'] = round(time.perf_counter() - start, 3)
            return out

        return timed

    runner.register_hook(hook)
    start = time.perf_counter()
    try:
        runner.train()
    finally:
        clustering_hook.extract_features = extract
        cross_modal.modality_pseudo_labels = modality_labels
        clustering_hook.cross_modal_pseudo_labels = pseudo_labels
    result['run_s'] = round(time.perf_counter() - start, 2)

    timed = iterations[args.warmup:]
    batch_size = runner.train_dataloader.batch_size
    result['iteration'] = {
        phase: median([it.get(phase, 0.0) for it in timed])
        for phase in PHASES
    }
    result['iteration']['images_per_s'] = round(
        batch_size / result['iteration']['total'], 1)
    result['iteration']['batch_size'] = batch_size
    result['iteration']['loader_images_per_s'] = loader_throughput(
        runner.train_dataloader, args.iters)
    result['num_train_images'] = len(runner.train_dataloader.dataset)
    result['lambda'] = getattr(
        get_ori_model(runner.model).head, 'progress_weight', None)
    if clustering:
        result['clustering'] = clustering
    if evaluation:
        num = len(runner.val_loop.dataloader.dataset)
        seconds = evaluation['total_s'] - evaluation.get('metric_s', 0.0)
        evaluation['num_images'] = num
        evaluation['extraction_images_per_s'] = round(num / seconds, 1)
        result['evaluation'] = evaluation
    result['peak_rss_mib'] = peak_rss_mib()
    result['peak_rss_children_mib'] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    if torch.cuda.is_available():
        result['peak_cuda_mib'] = round(
            torch.cuda.max_memory_allocated() / 2**20, 1)
    result['machine']['load_average_after'] = [
        round(v, 2) for v in os.getloadavg()
    ]
    return result


def loader_throughput(loader, batches: int) -> float:
    """Images per second the loader delivers alone over ``batches``."""
    iterator = iter(loader)
    next(iterator)  # workers started, first batch ready
    start = time.perf_counter()
    images = 0
    for _ in range(batches):
        try:
            batch = next(iterator)
        except StopIteration:
            break
        images += len(batch['inputs'])
    seconds = time.perf_counter() - start
    return round(images / seconds, 1) if images else 0.0


# ----------------------------------------------------------- head mode --
def build_heads(args: argparse.Namespace) -> Dict[str, torch.nn.Module]:
    """The heads of the configs, their memories filled at the chosen size
    (random unit features, random clusters, random association)."""
    from mmvireid.registry import MODELS
    from mmvireid.structures import IR, RGB
    from mmvireid.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    g = torch.Generator().manual_seed(0)
    num_rgb, num_ir = args.num_images
    clusters = args.num_clusters
    modalities = torch.cat([
        torch.full((num_rgb, ), RGB, dtype=torch.long),
        torch.full((num_ir, ), IR, dtype=torch.long)
    ])
    heads = {}
    for config in args.configs:
        cfg = Config.fromfile(config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        head = MODELS.build(cfg.model.head)
        head.train()
        dim = head.bnneck.num_features
        # every cluster has members: a permutation, then random labels
        labels = torch.cat([
            torch.cat([
                torch.randperm(c, generator=g),
                torch.randint(c, (n - c, ), generator=g)
            ]) for n, c in zip(args.num_images, clusters)
        ])
        feats = torch.nn.functional.normalize(
            torch.randn(len(labels), dim, generator=g), dim=1)
        pairs = torch.stack([
            torch.randperm(clusters[RGB], generator=g)[:min(clusters)],
            torch.randperm(clusters[IR], generator=g)[:min(clusters)]
        ], 1)
        head.memory.reset(feats, labels, modalities, pairs)
        progressive = getattr(head, 'progressive', None)
        if progressive is not None:
            epoch = args.epoch if args.epoch is not None else \
                progressive.get('ramp_epochs', 20) / 2
            head.set_epoch(epoch)
        heads[config] = head
    return heads


def head_batch(memory, args: argparse.Namespace, g: torch.Generator):
    """A PK batch per modality drawn from the memory's clusters."""
    from mmpretrain.structures import DataSample
    ids, instances = args.batch
    indices = []
    for modality in (0, 1):
        members = memory.members(modality)
        chosen = torch.randperm(memory.num_clusters(modality),
                                generator=g)[:ids]
        for cluster in chosen:
            slots = torch.nonzero(members == cluster).flatten()
            indices.append(slots[torch.randint(
                len(slots), (instances, ), generator=g)])
    indices = torch.cat(indices)
    samples = [
        DataSample(metainfo=dict(sample_idx=int(i),
                                 pseudo_label=int(memory.pseudo_labels[i])))
        for i in indices
    ]
    return samples, memory.modalities[indices]


def run_heads(args: argparse.Namespace) -> dict:
    """The head steps of every config, interleaved in this process."""
    heads = build_heads(args)
    g = torch.Generator().manual_seed(1)
    times = {config: dict(forward=[], backward=[], cpu=[], total=[])
             for config in heads}
    first = next(iter(heads.values()))
    for step in range(args.warmup + args.iters):
        samples, modality = head_batch(first.memory, args, g)
        for config, head in heads.items():
            x = torch.randn(len(samples), head.bnneck.num_features,
                            generator=g, requires_grad=True)
            cpu, start = time.process_time(), time.perf_counter()
            losses = head.loss((x, ), samples, modality)
            middle = time.perf_counter()
            sum(v for k, v in losses.items() if k.startswith('loss')
                ).backward()
            end = time.perf_counter()
            if step >= args.warmup:
                times[config]['forward'].append(middle - start)
                times[config]['backward'].append(end - middle)
                times[config]['total'].append(end - start)
                times[config]['cpu'].append(time.process_time() - cpu)
    base = None
    heads_out = {}
    for config, values in times.items():
        out = {k + '_s': median(v) for k, v in values.items()}
        if base is None:
            base = out
        out['total_ratio'] = round(out['total_s'] / base['total_s'], 3)
        out['cpu_ratio'] = round(out['cpu_s'] / base['cpu_s'], 3)
        head = heads[config]
        out['lambda'] = head.progress_weight if getattr(
            head, 'progressive', None) is not None else None
        heads_out[config] = out
    return dict(
        mode='head',
        machine=machine(),
        num_images=list(args.num_images),
        num_clusters=list(args.num_clusters),
        batch=list(args.batch),
        heads=heads_out)


# ---------------------------------------------------------------- main --
def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mode == 'head':
        result = run_heads(args)
    elif args.child_out:
        result = run_training(args, args.configs[0])
        with open(args.child_out, 'w') as f:
            json.dump(result, f)
        return result
    else:
        runs = []
        for config in args.configs:
            runs.append(run_child(argv if argv is not None else sys.argv[1:],
                                  args, config))
        result = dict(mode='train', runs=runs)
        if len(runs) > 1:
            base = runs[0]['iteration']['total']
            result['iteration_ratio'] = {
                run['config']: round(run['iteration']['total'] / base, 3)
                for run in runs
            }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return result


def run_child(argv: List[str], args: argparse.Namespace, config: str) -> dict:
    """Run ``config`` alone in a fresh process (its own peak memory)."""
    others = [c for c in args.configs if c != config]
    child_argv = [a for a in argv if a not in others]
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'run.json')
        subprocess.run(
            [sys.executable, osp.abspath(__file__)] + child_argv +
            ['--child-out', out],
            check=True)
        with open(out) as f:
            return json.load(f)


if __name__ == '__main__':
    main()
