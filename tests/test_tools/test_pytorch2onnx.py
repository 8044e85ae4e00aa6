"""tools/deployment/pytorch2onnx.py and the recipe of docs/en/deployment.md.

One export (the exporter takes some ten seconds even for a tiny model): a
two-stream ResNet-18 at a quarter width, verified against onnxruntime by the
tool; then the documented preprocessing and flip averaging, run on the
exported file, against the config's pipeline, data preprocessor and
``VIReID.predict``.
"""
import glob
import importlib.util
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmvireid.models.utils import ModalitySpecific
from mmvireid.registry import MODELS, TRANSFORMS
from mmvireid.structures import IR, RGB

onnxruntime = pytest.importorskip(
    'onnxruntime',
    reason='the ONNX export test needs onnxruntime '
    '(requirements/optional.txt)')
pytest.importorskip(
    'onnxscript',
    reason='torch.onnx.export needs onnxscript (requirements/optional.txt)')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'agw', 'agw_r18_synthetic_sysu.py')
# a generic two-stream backbone with a specific layer1, a quarter of
# ResNet-18's width; head.in_channels left to the model (128)
CFG_OPTIONS = {
    'model.backbone.type': 'TwoStreamBackbone',
    'model.backbone.num_specific_stages': 1,
    'model.backbone.backbone.base_channels': 16,
    'model.head.in_channels': None,
}


def load_tool():
    path = osp.join(REPO, 'tools', 'deployment', 'pytorch2onnx.py')
    spec = importlib.util.spec_from_file_location('tool_pytorch2onnx', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_recipe():
    """The functions of docs/en/deployment.md's marked code block."""
    with open(osp.join(REPO, 'docs', 'en', 'deployment.md')) as f:
        doc = f.read()
    block = re.search(
        r'<!-- deployment-recipe -->\n```python\n(.*?)```\n'
        r'<!-- /deployment-recipe -->', doc, re.S)
    namespace = {}
    exec(block.group(1), namespace)
    return namespace


def trained_looking_model(cfg):
    """The config's model with BN statistics and an IR stem that differ
    from their initial values, as after training."""
    torch.manual_seed(0)
    model_cfg = dict(
        cfg.model.to_dict(), data_preprocessor=cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    model.init_weights()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._NormBase):
                m.running_mean.copy_(
                    torch.randn(m.num_features, generator=gen) * .1)
                m.running_var.uniform_(.75, 1.25, generator=gen)
            if isinstance(m, ModalitySpecific):
                for p in m.streams[IR].parameters():
                    p.mul_(1 + .2 * torch.randn(p.shape, generator=gen))
    return model.eval()


def test_export_and_the_documented_recipe(tmp_path, tiny_sysu, capsys):
    tool = load_tool()
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(CFG_OPTIONS)
    model = trained_looking_model(cfg)
    assert model.head.in_channels == 128  # layer4 of base width 16
    checkpoint = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = str(tmp_path / 'tiny.onnx')
    options = [f'{k}={v}' for k, v in CFG_OPTIONS.items()]
    diff = tool.main(
        [CONFIG, checkpoint, '--out', out, '--verify', '--cfg-options'] +
        options)
    assert diff < 1e-5
    printed = capsys.readouterr().out
    assert (f'wrote {out}: inputs (N, 3, 64, 32) float32 + modality (N,) '
            'int64 -> feature (N, D), N dynamic') in printed
    assert 'onnxruntime vs PyTorch: max abs difference' in printed

    # the documented preprocessing is the config's pipeline and data
    # preprocessor; the documented flip averaging is VIReID.predict
    recipe = documented_recipe()
    paths = sorted(glob.glob(osp.join(tiny_sysu, 'cam1', '*', '*.jpg')))[:2] \
        + sorted(glob.glob(osp.join(tiny_sysu, 'cam3', '*', '*.jpg')))[:3]
    modality = [RGB, RGB, IR, IR, IR]
    inputs = recipe['preprocess'](paths, cfg.img_h, cfg.img_w)
    pipeline = [TRANSFORMS.build(t) for t in cfg.test_pipeline]
    items = []
    for path, code in zip(paths, modality):
        item = dict(img_path=path, modality=code)
        for transform in pipeline:
            item = transform(item)
        items.append(item)
    data = model.data_preprocessor(pseudo_collate(items))
    torch.testing.assert_close(torch.from_numpy(inputs), data['inputs'])
    session = onnxruntime.InferenceSession(
        out, providers=['CPUExecutionProvider'])
    features = recipe['retrieval_features'](session, inputs, modality)
    with torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'],
                                data['modality'])
    want = torch.stack([s.feature for s in samples])
    torch.testing.assert_close(torch.from_numpy(features), want)
    # the IR stream matters: the same images as RGB give other features
    as_rgb = recipe['retrieval_features'](session, inputs, [RGB] * 5)
    assert not torch.allclose(torch.from_numpy(as_rgb[2:]), want[2:],
                              atol=1e-3)


def test_bad_arguments(tmp_path):
    tool = load_tool()
    with pytest.raises(ValueError, match=r"--out 'x.pt': expected a .onnx"):
        tool.main([CONFIG, '--out', 'x.pt'])
    with pytest.raises(FileNotFoundError, match="config 'no.py': no such"):
        tool.main(['no.py', '--out', str(tmp_path / 'x.onnx')])
