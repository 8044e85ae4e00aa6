import mmcv
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mmvireid.visualization import plot_embedding, select_ids, tsne_embedding


def test_tsne_keeps_separated_clusters_apart():
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:2] * 10
    features = np.concatenate(
        [c + rng.normal(0, 0.1, (15, 8)) for c in centres])
    # one OpenMP thread: oversubscribed Barnes-Hut threads crawl on a
    # shared 2-core runner
    with threadpool_limits(1, user_api='openmp'):
        emb = tsne_embedding(features, perplexity=5, seed=0)
    assert emb.shape == (30, 2) and emb.dtype == np.float32
    a, b = emb[:15], emb[15:]
    spread = max(np.ptp(a, axis=0).max(), np.ptp(b, axis=0).max())
    assert np.linalg.norm(a.mean(0) - b.mean(0)) > spread


def test_tsne_checks_perplexity():
    with pytest.raises(ValueError, match=r'perplexity must be in \(0, N\)'):
        tsne_embedding(np.zeros((5, 3)), perplexity=5)


def test_select_ids():
    pid = np.array([1, 1, 2, 3, 3, 3])
    assert select_ids(pid, None).tolist() == list(range(6))
    assert select_ids(pid, 0).tolist() == list(range(6))
    chosen = select_ids(pid, 2, seed=3)
    assert len(np.unique(pid[chosen])) == 2
    # every item of a drawn id is kept
    assert all((pid[chosen] == i).sum() == (pid == i).sum()
               for i in np.unique(pid[chosen]))
    assert chosen.tolist() == select_ids(pid, 2, seed=3).tolist()


def test_plot_embedding(tmp_path):
    emb = np.random.default_rng(0).random((6, 2))
    out = plot_embedding(emb,
                         np.array([1, 1, 2, 2, 3, 3]),
                         np.array([0, 1, 0, 1, 0, 1]),
                         str(tmp_path / 'sub' / 'tsne.png'),
                         dpi=50)
    assert mmcv.imread(out).shape == (350, 350, 3)
    with pytest.raises(ValueError, match=r'modality values \[2\]'):
        plot_embedding(emb, np.ones(6), np.full(6, 2), str(tmp_path / 'x.png'))
    with pytest.raises(ValueError, match=r'expected embedding \(N, 2\)'):
        plot_embedding(emb, np.ones(5), np.ones(6), str(tmp_path / 'x.png'))
