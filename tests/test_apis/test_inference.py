import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmvireid.apis import inference_model, init_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# two-stream ResNet-18, test pipeline: load, resize to 32 x 64, pack
CONFIG = osp.join(REPO, 'configs', 'agw', 'agw_r18_synthetic_sysu.py')


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(CONFIG)


@pytest.fixture(scope='module')
def image_files(tmp_path_factory):
    """Three lossless BGR images of different sizes."""
    folder = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    paths = []
    for i, (h, w) in enumerate([(80, 40), (70, 30), (64, 32)]):
        path = str(folder / f'{i}.png')
        mmcv.imwrite(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), path)
        paths.append(path)
    return paths


def reference_features(model, paths, modalities):
    """The test path restated: read (BGR), resize to the config's size,
    BGR -> RGB, normalise, backbone + neck + head.pre_logits of the image
    and of its flip, mean, L2 norm."""
    cfg = Config.fromfile(CONFIG)
    mean = torch.tensor(cfg.data_preprocessor.mean).view(1, 3, 1, 1)
    std = torch.tensor(cfg.data_preprocessor.std).view(1, 3, 1, 1)
    imgs = [
        mmcv.imresize(mmcv.imread(p), (cfg.img_w, cfg.img_h))[..., ::-1]
        for p in paths
    ]
    x = torch.from_numpy(np.stack(imgs).copy()).permute(0, 3, 1, 2).float()
    x = (x - mean) / std
    modality = torch.tensor(modalities)
    with torch.no_grad():
        feats = model.head.pre_logits(model.extract_feat(x, modality))
        flipped = model.head.pre_logits(
            model.extract_feat(x.flip(3), modality))
    return F.normalize((feats + flipped) / 2, dim=1)


def test_features_of_paths_as_the_test_protocol(model, image_files):
    feats = inference_model(model, image_files, ['ir', 'rgb', 1],
                            batch_size=2)
    assert feats.shape == (3, 512) and feats.dtype == torch.float32
    torch.testing.assert_close(
        feats, reference_features(model, image_files, [1, 0, 1]),
        atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(3))
    assert not model.training


def test_arrays_equal_paths_and_modality_routes(model, image_files):
    from_paths = inference_model(model, image_files, 'thermal')
    arrays = [mmcv.imread(p) for p in image_files]
    torch.testing.assert_close(inference_model(model, arrays, 1), from_paths)
    # a single image, a single-channel array
    single = inference_model(model, image_files[0], 'ir')
    torch.testing.assert_close(single, from_paths[:1])
    gray = mmcv.imread(image_files[2], flag='grayscale')
    torch.testing.assert_close(
        inference_model(model, gray, 'ir'),
        inference_model(model, np.repeat(gray[..., None], 3, axis=2), 'ir'))
    # the two streams differ: the modality changes the feature
    as_rgb = inference_model(model, image_files, 'visible')
    assert (as_rgb - from_paths).abs().max() > 1e-3


def test_checkpoint_loads_through_the_policy(model, image_files, tmp_path):
    ckpt = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), ckpt)
    loaded = init_model(CONFIG, ckpt, cfg_options={'model.flip_test': False})
    assert loaded.flip_test is False and loaded.cfg.model.flip_test is False
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    # no flip: the image's own feature
    loaded.flip_test = True
    torch.testing.assert_close(
        inference_model(loaded, image_files, 'rgb'),
        inference_model(model, image_files, 'rgb'))
    # a checkpoint of another model is refused with the keys
    bad = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}), bad)
    with pytest.raises(ValueError, match='missing weights'):
        init_model(CONFIG, bad)


def test_bad_inputs(model, image_files, tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file'):
        init_model(str(tmp_path / 'missing.py'))
    with pytest.raises(FileNotFoundError, match="image 1 .*no such file"):
        inference_model(model, [image_files[0], 'missing.jpg'], 'ir')
    with pytest.raises(FileNotFoundError, match='a folder'):
        inference_model(model, str(tmp_path), 'ir')
    with pytest.raises(ValueError, match='2 modalities for 3 images'):
        inference_model(model, image_files, ['ir', 'rgb'])
    with pytest.raises(ValueError, match='modality of image 1 must be RGB'):
        inference_model(model, image_files, ['ir', 'depth', 'rgb'])
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        inference_model(model, np.zeros((4, 4, 4), np.uint8), 'ir')
    with pytest.raises(ValueError, match='no image'):
        inference_model(model, [], 'ir')
    with pytest.raises(ValueError, match='batch_size'):
        inference_model(model, image_files, 'ir', batch_size=0)
    with pytest.raises(ValueError, match='test pipeline'):
        inference_model(torch.nn.Identity(), image_files, 'ir')
