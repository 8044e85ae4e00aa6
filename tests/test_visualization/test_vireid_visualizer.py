import mmcv
import numpy as np
import pytest

from mmvireid.registry import VISUALIZERS


def coloured_runs(img, colour):
    """Column runs of ``colour`` on the pixel row holding most of it."""
    hit = np.abs(img.astype(int) - colour).sum(axis=2) < 40
    row = hit[np.argmax(hit.sum(axis=1))]
    starts = np.flatnonzero(row & ~np.r_[False, row[:-1]])
    ends = np.flatnonzero(row & ~np.r_[row[1:], False]) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def test_ranked_list_frames_and_file(tmp_path):
    # visualizers are global instances by name (MMEngine's ManagerMixin)
    vis = VISUALIZERS.build(
        dict(type='VIReIDVisualizer', name='test_frames', img_size=(64, 32)))
    grey = np.full((20, 10, 3), 128, np.uint8)
    out = str(tmp_path / 'row.png')
    row = vis.visualize_ranked_list(grey, [grey, grey, grey],
                                    [True, False, True], [0.1, 0.2, 0.3],
                                    gallery_texts=['pid 1 cam 1'] * 3,
                                    header='a query',
                                    out_file=out)
    assert row.dtype == np.uint8 and row.shape[2] == 3
    assert mmcv.imread(out, channel_order='rgb').shape == row.shape
    # images resized to 64 x 32: four images side by side, one row high
    assert 4 * 32 < row.shape[1] < 4 * 32 * 1.6
    assert 64 < row.shape[0] < 2 * 64
    green = coloured_runs(row, vis.MATCH_COLOR)
    red = coloured_runs(row, vis.MISMATCH_COLOR)
    blue = coloured_runs(row, vis.QUERY_COLOR)
    # query, then the matches at ranks 1 and 3 around the miss at rank 2
    assert len(blue) == 1 and len(green) == 2 and len(red) == 1
    assert blue[0][1] < green[0][0] < red[0][0] < green[1][0]
    # every frame is as wide as an image and its frame
    for start, end in blue + green + red:
        assert 32 <= end - start <= 32 + 8


def test_ranked_list_errors():
    vis = VISUALIZERS.build(
        dict(type='VIReIDVisualizer', name='test_errors', img_size=(64, 32)))
    grey = np.full((20, 10, 3), 128, np.uint8)
    with pytest.raises(ValueError, match='one entry per gallery image'):
        vis.visualize_ranked_list(grey, [grey], [True, False], [0.1])
    with pytest.raises(ValueError, match=r'RGB \(H, W, 3\)'):
        vis.visualize_ranked_list(grey[..., 0], [grey], [True], [0.1])
    with pytest.raises(ValueError, match='img_size must be'):
        VISUALIZERS.build(
            dict(type='VIReIDVisualizer', name='test_small', img_size=(8, 8)))


def test_unknown_identities_get_grey_frames_and_rows_stack():
    from mmvireid.visualization import stack_rows
    vis = VISUALIZERS.build(
        dict(type='VIReIDVisualizer', name='test_unknown', img_size=(64, 32)))
    yellow = np.full((20, 10, 3), (250, 250, 0), np.uint8)
    row = vis.visualize_ranked_list(yellow, [yellow, yellow], None,
                                    [0.1, 0.2])
    assert len(coloured_runs(row, vis.UNKNOWN_COLOR)) == 2
    assert not coloured_runs(row, vis.MATCH_COLOR)
    assert not coloured_runs(row, vis.MISMATCH_COLOR)
    short = vis.visualize_ranked_list(yellow, [yellow], None, [0.1])
    grid = stack_rows([row, short])
    assert grid.shape == (row.shape[0] + short.shape[0], row.shape[1], 3)
    np.testing.assert_array_equal(grid[:row.shape[0]], row)
    np.testing.assert_array_equal(grid[row.shape[0]:, :short.shape[1]],
                                  short)
    assert (grid[row.shape[0]:, short.shape[1]:] == 255).all()
    with pytest.raises(ValueError, match='no row'):
        stack_rows([])
