import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmvireid.visualization import plot_clustering_history
from mmvireid.visualization.clustering_plot import clustering_figure

HISTORY = [
    dict(epoch=0, num_clusters_rgb=18, num_clusters_ir=8, matched_pairs=8,
         outliers_rgb=207, outliers_ir=108, ari=0.04, ari_rgb=0.06,
         ari_ir=0.08, time_extract=17.1),
    # the IR ARI is missing here (e.g. no IR image): left out of its curve
    dict(epoch=2, num_clusters_rgb=25, num_clusters_ir=12, matched_pairs=12,
         outliers_rgb=143, outliers_ir=84, ari=0.06, ari_rgb=0.09),
    dict(epoch=3, num_clusters_rgb=31, num_clusters_ir=11, matched_pairs=11,
         outliers_rgb=129, outliers_ir=100, ari=0.07, ari_rgb=0.13,
         ari_ir=0.10),
]


def lines(fig):
    """{panel index: {label: (x, y)}} of every plotted line."""
    return {
        i: {
            line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()
        }
        for i, ax in enumerate(fig.axes)
    }


def test_curves_hold_the_statistics_per_epoch():
    got = lines(clustering_figure(HISTORY, title='run'))
    assert len(got) == 2
    assert got[0]['RGB clusters'] == ([0, 2, 3], [18, 25, 31])
    assert got[0]['IR outliers'] == ([0, 2, 3], [108, 84, 100])
    assert got[0]['matched pairs'] == ([0, 2, 3], [8, 12, 11])
    assert got[1]['joint (IR via association)'] == ([0, 2, 3],
                                                    [0.04, 0.06, 0.07])
    assert got[1]['IR'] == ([0, 3], [0.08, 0.10])
    # timings are not plotted
    assert not any('time' in label for panel in got.values()
                   for label in panel)


def test_without_true_ids_there_is_no_ari_panel():
    history = [{k: v for k, v in r.items() if not k.startswith('ari')}
               for r in HISTORY]
    got = lines(clustering_figure(history))
    assert list(got) == [0]
    assert got[0]['IR clusters'] == ([0, 2, 3], [8, 12, 11])


def test_writes_a_png(tmp_path):
    out = str(tmp_path / 'new' / 'clustering_stats.png')
    assert plot_clustering_history(HISTORY, out, dpi=50) == out
    with Image.open(out) as img:
        assert img.format == 'PNG'
        assert img.size == (500, 200)  # 10 x 4 inches at 50 dpi
        # not a blank canvas
        assert np.asarray(img.convert('L')).std() > 5


def test_bad_history_is_refused(tmp_path):
    out = str(tmp_path / 'x.png')
    with pytest.raises(ValueError, match='history is empty'):
        plot_clustering_history([], out)
    with pytest.raises(ValueError, match=r'records \[1\] have no "epoch"'):
        plot_clustering_history([dict(epoch=0), dict(ari=0.1)], out)
    assert not osp.exists(out)
