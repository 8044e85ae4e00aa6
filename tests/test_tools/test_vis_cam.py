import glob

import mmcv
import pytest
import torch
import vis_cam
from e2e_utils import write_tiny_config

from mmvireid.apis import init_model


def test_vis_cam_of_a_query_and_a_match(tiny_sysu, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_sysu)
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=init_model(config).state_dict()), checkpoint)
    query = sorted(glob.glob(f'{tiny_sysu}/cam3/*/*.jpg'))[0]
    target = sorted(glob.glob(f'{tiny_sysu}/cam1/*/*.jpg'))[0]
    out = str(tmp_path / 'cam.png')
    cam = vis_cam.main([
        config, checkpoint, query, '--modality', 'ir', '--target', target,
        '--layer', 'backbone.shared.layer3', '--out', out
    ])
    assert cam.shape == (32, 16) and 0 <= cam.min() and cam.max() == 1
    assert mmcv.imread(out).shape == (32, 3 * 16, 3)
    norm_cam = vis_cam.main([config, checkpoint, query, '--modality', 'ir',
                             '--out', out])
    assert norm_cam.shape == (32, 16)
    assert mmcv.imread(out).shape == (32, 32, 3)
    with pytest.raises(SystemExit):
        vis_cam.main([config, checkpoint, query, '--modality', 'depth'])
