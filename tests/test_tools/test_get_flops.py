"""tools/analysis_tools/get_flops.py on the synthetic AGW config."""
import importlib.util
import os.path as osp

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config

from mmvireid.models import RetrievalGraph
from mmvireid.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'agw', 'agw_r18_synthetic_sysu.py')


def load_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'get_flops.py')
    spec = importlib.util.spec_from_file_location('tool_get_flops', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_eager_inference_and_the_exported_graph(capsys):
    results = load_tool().main([CONFIG, '--modality', 'rgb'])
    eager, exported = results['eager']['flops'], results['exported']['flops']
    # eager: one stream, as the one-stream model of the same layers
    cfg = Config.fromfile(CONFIG)
    one_stream = MODELS.build(
        dict(cfg.model.to_dict(), backbone=cfg.model.backbone.backbone))
    one_stream.eval()  # (mmpretrain's ResNet.train returns None)
    want = get_model_complexity_info(
        RetrievalGraph(one_stream),
        inputs=(torch.randn(1, 3, 64, 32), torch.tensor([0])),
        show_table=False,
        show_arch=False)['flops']
    assert eager == want
    # the graph runs the other modality's stem too
    stream = MODELS.build(cfg.model.backbone.backbone)
    stem = torch.nn.Sequential(stream.conv1, stream.bn1, stream.relu,
                               stream.maxpool).eval()
    stem_flops = get_model_complexity_info(
        stem, inputs=(torch.randn(1, 3, 64, 32), ), show_table=False,
        show_arch=False)['flops']
    assert exported - eager == stem_flops
    # mostly a 7x7 convolution of 3 into 64 channels on a 32x16 map
    assert 1 < stem_flops / (32 * 16 * 64 * 3 * 7 * 7) < 1.02
    printed = capsys.readouterr().out
    assert 'Input shape: (3, 64, 32) (rgb, one view)' in printed
    assert 'Exported graph (every modality-specific branch on every ' \
        'image): Flops' in printed


def test_one_stream_model_has_one_figure():
    results = load_tool().retrieval_complexity(
        CONFIG,
        shape=[32, 16],
        cfg_options={
            'model.backbone':
            dict(
                _delete_=True, type='ResNet', depth=18,
                strides=(1, 2, 2, 1))
        })
    assert set(results) == {'eager'}
    assert results['eager']['input_shape'] == (3, 32, 16)
