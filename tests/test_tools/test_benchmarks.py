"""The benchmark tools run end to end at toy sizes (their figures are
measured by running them, never in tests)."""
import json
import os.path as osp
import runpy

import pytest
from e2e_utils import REPO

GPU_SUITE = osp.join(REPO, 'tools', 'benchmarks', 'gpu_suite.py')
BENCHMARK_TRAIN = osp.join(REPO, 'tools', 'analysis_tools',
                           'benchmark_train.py')
CONFIGS = osp.join(REPO, 'configs')


@pytest.mark.e2e
def test_gpu_suite_smoke_runs_every_part(tmp_path):
    out = tmp_path / 'suite.json'
    result = runpy.run_path(GPU_SUITE)['main'](
        ['--smoke', '--work-dir',
         str(tmp_path), '--out',
         str(out)])
    assert json.loads(out.read_text()) == result
    assert result['smoke'] and result['machine']['device'] == 'cpu'
    for backend in ('torch', 'faiss'):
        phases = result['clustering'][backend]
        assert set(phases) >= {'knn', 'reciprocal', 'encoding', 'jaccard',
                               'dbscan', 'total'}
    epoch = result['spcl_id_epoch']
    iteration = epoch['iteration']
    assert iteration['batch_size'] == 16
    assert all(iteration[phase] >= 0 for phase in (
        'data', 'preprocess', 'forward', 'head', 'backward', 'optimizer'))
    assert iteration['memory_update'] > 0 and iteration['total'] > 0
    # every part of the step is one phase: the rest is small
    assert iteration['other'] < 0.5 * iteration['total']
    clustering = epoch['clustering']
    assert clustering['extraction_images_per_s'] > 0
    assert len(clustering['phases']) == 2  # RGB, IR
    assert clustering['cluster_s'] > 0 and 'memory_reset_s' in clustering
    evaluation = epoch['evaluation']
    assert evaluation['num_images'] > 0 and evaluation['metric_s'] > 0
    assert epoch['peak_rss_mib'] > 0
    batches = result['mclnet']['batches']
    assert [b['batch'] for b in batches] == [8, 12]
    assert result['mclnet']['largest_batch'] == 12
    assert all(b['images_per_s'] > 0 for b in batches)


def test_benchmark_train_head_mode_interleaves_the_heads(capsys):
    main = runpy.run_path(BENCHMARK_TRAIN)['main']
    configs = [
        osp.join(CONFIGS, 'cluster_contrast', 'cluster_contrast_r50_sysu.py'),
        osp.join(CONFIGS, 'spcl_id', 'spcl_id_r50_sysu.py')
    ]
    result = main(configs + [
        '--mode', 'head', '--iters', '2', '--warmup', '1', '--num-images',
        '6000', '3000', '--num-clusters', '20', '10', '--batch', '4', '4',
        '--cfg-options', 'model.head.in_channels=64'
    ])
    assert json.loads(capsys.readouterr().out) == result
    heads = result['heads']
    assert heads[configs[0]]['total_ratio'] == 1.0
    assert heads[configs[0]]['lambda'] is None
    assert heads[configs[1]]['lambda'] == 0.5  # half of the ramp
    assert heads[configs[1]]['total_s'] > 0


def test_train_speed_switches_set_the_model(monkeypatch):
    """tools/train.py --bf16 --channels-last set the model's switches."""
    from mmengine.config import Config
    train = runpy.run_path(osp.join(REPO, 'tools', 'train.py'))
    config = osp.join(CONFIGS, 'spcl_id', 'spcl_id_r18_synthetic_sysu.py')
    monkeypatch.setenv('LOCAL_RANK', '0')  # parse_args sets it
    for argv, dtype, channels_last in (
        ([], None, None),
        (['--bf16', '--channels-last'], 'bfloat16', True),
    ):
        monkeypatch.setattr('sys.argv', ['train.py', config] + argv)
        cfg = train['merge_args'](Config.fromfile(config),
                                  train['parse_args']())
        assert cfg.model.get('autocast_dtype') == dtype
        assert cfg.model.get('channels_last') == channels_last
