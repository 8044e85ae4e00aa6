"""Benchmark the pseudo-label step: dense reference vs ``mmvireid.clustering``.

Builds clustered synthetic features (unit identity centres plus Gaussian
noise of a per-image scale, L2-normalised), then runs on the same features

- ``reference``: a straightforward dense implementation of methods.md §5.1
  written like the community's (cluster-contrast ``compute_jaccard_distance``:
  faiss kNN, per-row Python loops, dense N×N matrices) followed by
  scikit-learn's DBSCAN on the dense matrix, and
- ``project``: the phases of :func:`mmvireid.clustering.pseudo_labels`
  (exact kNN, reciprocal sets, encoding, sparse Jaccard, DBSCAN),

each in its own subprocess, so that each peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own. It prints, per
phase, the wall time and the CPU time of the process (``time.process_time``,
all threads: on a machine shared with other jobs the wall time is inflated,
the CPU time much less), the speed-ups, the peak RSS of each process and its
growth above the RSS once the features are loaded, and the agreement of the
labels (adjusted Rand index, identical labels, cluster and outlier counts).

Example::

    python tools/analysis_tools/benchmark_clustering.py --num 22258 --dim 2048
    python tools/analysis_tools/benchmark_clustering.py --num 100000 \\
        --skip-reference
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--num',
        type=int,
        default=22258,
        help='number of features N (SYSU-MM01 RGB train: 22258)')
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
        help='run only the project (sizes the dense one cannot hold)')
    parser.add_argument(
        '--run', choices=['reference', 'project'], help=argparse.SUPPRESS)
    parser.add_argument('--features', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args()


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


class Clock:
    """Wall and process CPU time of consecutive phases."""

    def __init__(self, device='cpu'):
        self.device = device
        self.wall, self.cpu = {}, {}
        self._last = self._now()

    def _now(self):
        if str(self.device).startswith('cuda'):
            import torch
            torch.cuda.synchronize()
        return time.perf_counter(), time.process_time()

    def lap(self, name):
        now = self._now()
        self.wall[name] = now[0] - self._last[0]
        self.cpu[name] = now[1] - self._last[1]
        self._last = now


def reference_pseudo_labels(features, k1, k2, eps, min_samples, clock):
    """Dense k-reciprocal Jaccard distance + DBSCAN, the community's way."""
    import faiss
    import torch
    import torch.nn.functional as F
    from sklearn.cluster import DBSCAN

    target = torch.from_numpy(features)
    num = target.size(0)
    index = faiss.IndexFlatL2(target.size(-1))
    index.add(features)
    _, initial_rank = index.search(features, k1)
    clock.lap('knn')

    def k_reciprocal_neigh(i, k):
        forward = initial_rank[i, :k + 1]
        backward = initial_rank[forward, :k + 1]
        return forward[np.where(backward == i)[0]]

    nn_k1 = [k_reciprocal_neigh(i, k1) for i in range(num)]
    nn_k1_half = [
        k_reciprocal_neigh(i, int(np.around(k1 / 2))) for i in range(num)
    ]
    V = np.zeros((num, num), dtype=np.float32)
    for i in range(num):
        k_reciprocal_index = nn_k1[i]
        expansion = k_reciprocal_index
        for candidate in k_reciprocal_index:
            cand = nn_k1_half[candidate]
            if len(np.intersect1d(cand, k_reciprocal_index)) > \
                    2 / 3 * len(cand):
                expansion = np.append(expansion, cand)
        expansion = np.unique(expansion)
        dist = 2 - 2 * torch.mm(target[i].unsqueeze(0), target[expansion].t())
        V[i, expansion] = F.softmax(-dist, dim=1).view(-1).numpy()
    if k2 != 1:
        V_qe = np.zeros_like(V, dtype=np.float32)
        for i in range(num):
            V_qe[i, :] = np.mean(V[initial_rank[i, :k2], :], axis=0)
        V = V_qe
        del V_qe
    inv_index = [np.where(V[:, i] != 0)[0] for i in range(num)]
    jaccard_dist = np.zeros((num, num), dtype=np.float32)
    for i in range(num):
        temp_min = np.zeros((1, num), dtype=np.float32)
        nonzero = np.where(V[i, :] != 0)[0]
        images = [inv_index[ind] for ind in nonzero]
        for j in range(len(nonzero)):
            temp_min[0, images[j]] += np.minimum(V[i, nonzero[j]],
                                                 V[images[j], nonzero[j]])
        jaccard_dist[i] = 1 - temp_min / (2 - temp_min)
    del inv_index, V
    jaccard_dist[jaccard_dist < 0] = 0.0
    clock.lap('distances')
    labels = DBSCAN(
        eps=eps, min_samples=min_samples, metric='precomputed',
        n_jobs=-1).fit_predict(jaccard_dist)
    clock.lap('dbscan')
    return labels


def project_pseudo_labels(features, k1, k2, eps, min_samples, knn_backend,
                          clock):
    """The phases of :func:`mmvireid.clustering.pseudo_labels`, timed."""
    sys.path.insert(0,
                    osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
    from mmvireid.clustering import (cluster_dbscan, exact_knn,
                                     k_reciprocal_encoding, k_reciprocal_sets,
                                     query_expansion, sparse_jaccard)
    rank, similarities = exact_knn(features, k1, backend=knn_backend)
    clock.lap('knn')
    mask_k1, mask_half = k_reciprocal_sets(rank, k1)
    clock.lap('reciprocal')
    encoding = k_reciprocal_encoding(features, rank, similarities, mask_k1,
                                     mask_half)
    encoding = query_expansion(encoding, rank, k2)
    clock.lap('encoding')
    distances = sparse_jaccard(encoding, max_distance=eps)
    clock.lap('jaccard')
    labels = cluster_dbscan(distances, eps=eps, min_samples=min_samples)
    clock.lap('dbscan')
    return labels


def run_child(args):
    """Run one implementation on the saved features; write labels + stats."""
    features = np.load(args.features)
    if args.run == 'project':
        import torch
        features = torch.from_numpy(features).to(args.device)
    rss_loaded = peak_rss_mb()
    clock = Clock(args.device)
    if args.run == 'reference':
        labels = reference_pseudo_labels(features, args.k1, args.k2, args.eps,
                                         args.min_samples, clock)
    else:
        labels = project_pseudo_labels(features, args.k1, args.k2, args.eps,
                                       args.min_samples, args.knn_backend,
                                       clock)
    np.save(args.out + '.npy', np.asarray(labels))
    with open(args.out + '.json', 'w') as f:
        json.dump(
            dict(
                wall=clock.wall,
                cpu=clock.cpu,
                peak_rss_mb=peak_rss_mb(),
                rss_loaded_mb=rss_loaded), f)


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
    subprocess.run(cmd, check=True)
    with open(out + '.json') as f:
        stats = json.load(f)
    stats['labels'] = np.load(out + '.npy')
    return stats


def after_knn(times):
    return sum(value for key, value in times.items() if key != 'knn')


def main():
    args = parse_args()
    if args.run:
        run_child(args)
        return
    from sklearn.metrics import adjusted_rand_score
    features, pids = make_features(args.num, args.dim, args.images_per_id,
                                   args.noise, args.seed)
    print(f'features: N={args.num} D={args.dim} '
          f'({features.nbytes / 2**20:.0f} MiB), {pids.max() + 1} identities'
          f', noise {args.noise}; k1={args.k1} k2={args.k2} eps={args.eps} '
          f'min_samples={args.min_samples}; {os.cpu_count()} CPUs, load '
          f'average {os.getloadavg()[0]:.1f}')
    print(
        'time: wall / CPU seconds (CPU: all threads of the process); '
        'memory: ru_maxrss of a subprocess per implementation, "growth" = '
        'peak minus the RSS once the features were loaded',
        flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        features_path = osp.join(tmp, 'features.npy')
        np.save(features_path, features)
        del features
        names = ['project'] if args.skip_reference else \
            ['reference', 'project']
        for name in names:
            results[name] = run_in_subprocess(args, name, features_path,
                                              osp.join(tmp, name))
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
    if 'reference' in results:
        ref, ours = results['reference'], results['project']
        for clock in ('wall', 'cpu'):
            r, o = ref[clock], ours[clock]
            print(f'speed-up ({clock}): whole step '
                  f'{sum(r.values()) / sum(o.values()):.1f}x, after the kNN '
                  f'{after_knn(r) / after_knn(o):.1f}x, kNN '
                  f'{r["knn"] / o["knn"]:.1f}x')
        same = ref['labels'] == ours['labels']
        print('labels: ARI(reference, project) = '
              f'{adjusted_rand_score(ref["labels"], ours["labels"]):.6f}, '
              f'identical: {bool(same.all())} ({int((~same).sum())} differ)')


if __name__ == '__main__':
    main()
