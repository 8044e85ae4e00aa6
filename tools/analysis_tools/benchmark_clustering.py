"""Benchmark the pseudo-label step of ``mmvireid.clustering`` against dense
implementations and against this machine's matrix-product floor.

Builds clustered synthetic features (unit identity centres plus Gaussian
noise of a per-image scale, L2-normalised), then runs on the same features,
each in its own subprocess (so that each peak RSS,
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, is its own):

- ``project``: the phases of :func:`mmvireid.clustering.pseudo_labels`
  (exact kNN, reciprocal sets, encoding, sparse Jaccard, DBSCAN), after a
  plain ``torch.mm`` of the features by their transpose (in strips of
  2048 rows into one reused buffer) that measures the GFLOP/s this machine
  reaches with the same thread count; the kNN's floor is N²/2·D
  multiply-adds at that rate;
- ``reference``: :func:`mmvireid.testing.dense_jaccard` (a dense per-row
  restatement of docs/en/recipes.md §5.1) and scikit-learn's DBSCAN on the
  dense matrix (``--skip-reference`` leaves it out);
- ``community``: with ``--community-path DIR`` (a copy of
  alibaba/cluster-contrast-reid), its
  ``clustercontrast/utils/faiss_rerank.py::compute_jaccard_distance`` (CPU
  search, ``search_option=3``) and DBSCAN as its training script calls
  them; its faiss search is timed apart as its kNN.

It prints, per phase, the wall time and the CPU time of the process
(``time.process_time``, all threads: on a machine shared with other jobs
the wall time is inflated, the CPU time much less), the speed-ups of the
project over each dense implementation (whole step, after the kNN, kNN),
the kNN against the floor, the peak RSS of each process and its growth
above the RSS once the features are loaded, and the agreement of the labels
(adjusted Rand index, identical labels, cluster and outlier counts). The
dense implementations hold several N×N float32 matrices (about 2 GB each
at N = 22,120): they run one at a time.

Example::

    python tools/analysis_tools/benchmark_clustering.py --num 22120 \\
        --community-path /path/to/cluster-contrast-reid
    python tools/analysis_tools/benchmark_clustering.py --num 100000 \\
        --skip-reference
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--num',
        type=int,
        default=22120,
        help='number of features N (SYSU-MM01 RGB train: 22,258 images)')
    parser.add_argument('--dim', type=int, default=2048, help='dimension D')
    parser.add_argument(
        '--images-per-id',
        type=int,
        default=56,
        help='features per identity centre (SYSU-MM01: ~56)')
    parser.add_argument(
        '--noise',
        type=float,
        default=4.0,
        help='mean noise norm relative to the unit centres (4: overlapping '
        'identities and ~14%% outliers at eps=0.6; 1: separated clusters)')
    parser.add_argument('--k1', type=int, default=30)
    parser.add_argument('--k2', type=int, default=6)
    parser.add_argument('--eps', type=float, default=0.6)
    parser.add_argument('--min-samples', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--device', default='cpu', help='device of the project run, e.g. cuda')
    parser.add_argument(
        '--knn-backend', default='auto', choices=['auto', 'torch', 'faiss'])
    parser.add_argument(
        '--skip-reference',
        action='store_true',
        help='leave out the dense reference (sizes it cannot hold)')
    parser.add_argument(
        '--community-path',
        help='folder of a copy of alibaba/cluster-contrast-reid: also run '
        'its compute_jaccard_distance + DBSCAN')
    parser.add_argument(
        '--run',
        choices=['reference', 'project', 'community'],
        help=argparse.SUPPRESS)
    parser.add_argument('--features', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.community_path is not None:
        rerank = osp.join(args.community_path, 'clustercontrast', 'utils',
                          'faiss_rerank.py')
        if not osp.isfile(rerank):
            parser.error(f'--community-path: {rerank} does not exist; '
                         'expected a copy of alibaba/cluster-contrast-reid')
    return args


def make_features(num, dim, images_per_id, noise, seed):
    """Return unit features (N, D) float32 and their identity (N,)."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    num_ids = max(1, -(-num // images_per_id))
    centres = torch.nn.functional.normalize(
        torch.randn(num_ids, dim, generator=gen), dim=1)
    pids = torch.randperm(num, generator=gen) % num_ids
    scale = noise * (0.5 + torch.rand(num, 1, generator=gen))
    feats = torch.empty(num, dim)
    for start in range(0, num, 8192):  # chunks bound the temporaries
        part = slice(start, start + 8192)
        feats[part] = torch.nn.functional.normalize(
            centres[pids[part]] + scale[part] *
            torch.randn(feats[part].shape, generator=gen) / dim**0.5,
            dim=1)
    return feats.numpy(), pids.numpy()


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def now(device='cpu'):
    """Wall and process CPU seconds, CUDA synchronised."""
    if str(device).startswith('cuda'):
        import torch
        torch.cuda.synchronize()
    return time.perf_counter(), time.process_time()


class Clock:
    """Wall and process CPU time of consecutive phases."""

    def __init__(self, device='cpu'):
        self.device = device
        self.wall, self.cpu = {}, {}
        self._last = now(device)

    def lap(self, name):
        current = now(self.device)
        self.wall[name] = current[0] - self._last[0]
        self.cpu[name] = current[1] - self._last[1]
        self._last = current


def gemm_floor(features):
    """Seconds of N²/2·D multiply-adds at the rate of a plain ``torch.mm``.

    Returns:
        dict: ``gflops`` (rate of ``features @ features.T``, computed in
        strips of 2048 rows into one buffer), ``wall`` and ``cpu`` (the
        floor: half the seconds of that full product).
    """
    import torch
    num, dim = features.shape
    out = torch.empty(min(2048, num), num, device=features.device)
    torch.mm(features[:out.size(0)], features.T, out=out)  # warm-up
    start = now(features.device)
    for row in range(0, num, out.size(0)):
        strip = features[row:row + out.size(0)]
        torch.mm(strip, features.T, out=out[:strip.size(0)])
    stop = now(features.device)
    wall = stop[0] - start[0]
    return dict(
        gflops=2 * num * num * dim / wall / 1e9,
        wall=wall / 2,
        cpu=(stop[1] - start[1]) / 2)


def reference_pseudo_labels(features, args, clock):
    """:func:`mmvireid.testing.dense_jaccard` + dense DBSCAN."""
    from sklearn.cluster import DBSCAN

    from mmvireid.testing import dense_jaccard, dense_knn
    rank = dense_knn(features, args.k1)
    clock.lap('knn')
    distances = dense_jaccard(features, args.k1, args.k2, rank=rank)
    clock.lap('distances')
    labels = DBSCAN(
        eps=args.eps, min_samples=args.min_samples,
        metric='precomputed').fit_predict(distances)
    clock.lap('dbscan')
    return labels


class TimedIndex:
    """A faiss index whose ``search`` time is recorded (wall, CPU)."""

    def __init__(self, index):
        self.index = index
        self.seconds = (0., 0.)

    def add(self, features):
        self.index.add(features)

    def search(self, features, k):
        start = now()
        result = self.index.search(features, k)
        stop = now()
        self.seconds = (stop[0] - start[0], stop[1] - start[1])
        return result


def load_community(path):
    """cluster-contrast's ``faiss_rerank`` module, without running the
    package ``__init__`` (it imports its models and datasets)."""
    utils = osp.join(path, 'clustercontrast', 'utils')
    package = types.ModuleType('community_utils')
    package.__path__ = [utils]
    sys.modules['community_utils'] = package
    spec = importlib.util.spec_from_file_location(
        'community_utils.faiss_rerank', osp.join(utils, 'faiss_rerank.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def community_pseudo_labels(features, args, clock):
    """compute_jaccard_distance + DBSCAN as cluster-contrast's
    ``examples/cluster_contrast_train_usl.py`` calls them (CPU search)."""
    import torch
    from sklearn.cluster import DBSCAN
    rerank = args.community
    make_index = rerank.index_init_cpu
    indexes = []

    def timed_index(dim):
        indexes.append(TimedIndex(make_index(dim)))
        return indexes[-1]

    rerank.index_init_cpu = timed_index
    distances = rerank.compute_jaccard_distance(
        torch.from_numpy(features),
        k1=args.k1,
        k2=args.k2,
        print_flag=False,
        search_option=3)
    clock.lap('distances')
    labels = DBSCAN(
        eps=args.eps,
        min_samples=args.min_samples,
        metric='precomputed',
        n_jobs=-1).fit_predict(distances)
    clock.lap('dbscan')
    # Split the faiss search out of the distances as the kNN phase.
    wall, cpu = indexes[0].seconds
    clock.wall = dict(
        knn=wall, distances=clock.wall['distances'] - wall,
        dbscan=clock.wall['dbscan'])
    clock.cpu = dict(
        knn=cpu, distances=clock.cpu['distances'] - cpu,
        dbscan=clock.cpu['dbscan'])
    return labels


def project_pseudo_labels(features, args, clock):
    """The phases of :func:`mmvireid.clustering.pseudo_labels`, timed."""
    from mmvireid.clustering import (cluster_dbscan, exact_knn,
                                     k_reciprocal_encoding, k_reciprocal_sets,
                                     query_expansion, sparse_jaccard)
    rank, similarities = exact_knn(features, args.k1, backend=args.knn_backend)
    clock.lap('knn')
    mask_k1, mask_half = k_reciprocal_sets(rank, args.k1)
    clock.lap('reciprocal')
    encoding = k_reciprocal_encoding(features, rank, similarities, mask_k1,
                                     mask_half)
    encoding = query_expansion(encoding, rank, args.k2)
    clock.lap('encoding')
    distances = sparse_jaccard(encoding, max_distance=args.eps)
    clock.lap('jaccard')
    labels = cluster_dbscan(
        distances, eps=args.eps, min_samples=args.min_samples)
    clock.lap('dbscan')
    return labels


def run_child(args):
    """Run one implementation on the saved features; write labels + stats."""
    # Imports first: they are not part of the timings.
    import sklearn.cluster  # noqa: F401
    import torch

    import mmvireid.clustering  # noqa: F401
    import mmvireid.testing  # noqa: F401
    if args.run == 'community':
        args.community = load_community(args.community_path)
    features = np.load(args.features)
    stats = {}
    if args.run == 'project':
        features = torch.from_numpy(features).to(args.device)
        stats['floor'] = gemm_floor(features)
    rss_loaded = peak_rss_mb()
    clock = Clock(args.device)
    run = dict(
        reference=reference_pseudo_labels,
        project=project_pseudo_labels,
        community=community_pseudo_labels)[args.run]
    labels = run(features, args, clock)
    np.save(args.out + '.npy', np.asarray(labels))
    stats.update(
        wall=clock.wall,
        cpu=clock.cpu,
        peak_rss_mb=peak_rss_mb(),
        rss_loaded_mb=rss_loaded)
    with open(args.out + '.json', 'w') as f:
        json.dump(stats, f)


def run_in_subprocess(args, which, features_path, out):
    cmd = [
        sys.executable, __file__, '--run', which, '--features', features_path,
        '--out', out, '--k1',
        str(args.k1), '--k2',
        str(args.k2), '--eps',
        str(args.eps), '--min-samples',
        str(args.min_samples), '--device', args.device, '--knn-backend',
        args.knn_backend
    ]
    if args.community_path is not None:
        cmd += ['--community-path', args.community_path]
    subprocess.run(cmd, check=True)
    with open(out + '.json') as f:
        stats = json.load(f)
    stats['labels'] = np.load(out + '.npy')
    return stats


def after_knn(times):
    return sum(value for key, value in times.items() if key != 'knn')


def report(results, pids):
    from sklearn.metrics import adjusted_rand_score
    for name, stats in results.items():
        wall, cpu = stats['wall'], stats['cpu']
        phases = ' '.join(f'{key}={wall[key]:.2f}/{cpu[key]:.2f}s'
                          for key in wall)
        labels = stats['labels']
        print(f'{name:>9}: {phases} total={sum(wall.values()):.2f}/'
              f'{sum(cpu.values()):.2f}s')
        print(f'{"":>9}  peak RSS {stats["peak_rss_mb"]:.0f} MiB, growth '
              f'{stats["peak_rss_mb"] - stats["rss_loaded_mb"]:.0f} MiB; '
              f'{labels.max() + 1} clusters, {int((labels == -1).sum())} '
              'outliers; ARI vs identities '
              f'{adjusted_rand_score(pids, labels):.4f}')
    ours = results['project']
    floor = ours['floor']
    print(f'GEMM floor: torch.mm at {floor["gflops"]:.0f} GFLOP/s, N²/2·D '
          f'multiply-adds in {floor["wall"]:.2f}/{floor["cpu"]:.2f}s; kNN '
          f'{ours["wall"]["knn"] / floor["wall"]:.2f}x the floor (wall)')
    for name in ('reference', 'community'):
        if name not in results:
            continue
        base = results[name]
        for clock in ('wall', 'cpu'):
            b, o = base[clock], ours[clock]
            print(f'speed-up over {name} ({clock}): whole step '
                  f'{sum(b.values()) / sum(o.values()):.1f}x, after the kNN '
                  f'{after_knn(b) / after_knn(o):.1f}x, kNN '
                  f'{b["knn"] / o["knn"]:.1f}x')
        same = base['labels'] == ours['labels']
        print(f'labels vs {name}: ARI '
              f'{adjusted_rand_score(base["labels"], ours["labels"]):.6f}, '
              f'identical: {bool(same.all())} ({int((~same).sum())} differ)')


def main():
    args = parse_args()
    if args.run:
        run_child(args)
        return
    import torch
    features, pids = make_features(args.num, args.dim, args.images_per_id,
                                   args.noise, args.seed)
    print(f'features: N={args.num} D={args.dim} '
          f'({features.nbytes / 2**20:.0f} MiB), {pids.max() + 1} identities'
          f', noise {args.noise}; k1={args.k1} k2={args.k2} eps={args.eps} '
          f'min_samples={args.min_samples}; {os.cpu_count()} CPUs, '
          f'{torch.get_num_threads()} torch threads, load average '
          f'{os.getloadavg()[0]:.1f}')
    print(
        'time: wall / CPU seconds (CPU: all threads of the process); '
        'memory: ru_maxrss of a subprocess per implementation, "growth" = '
        'peak minus the RSS once the features were loaded',
        flush=True)
    names = ['project']
    if not args.skip_reference:
        names.append('reference')
    if args.community_path is not None:
        names.append('community')
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        features_path = osp.join(tmp, 'features.npy')
        np.save(features_path, features)
        del features
        for name in names:
            results[name] = run_in_subprocess(args, name, features_path,
                                              osp.join(tmp, name))
    print(f'load average at the end {os.getloadavg()[0]:.1f}')
    report(results, pids)


if __name__ == '__main__':
    main()
