import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'misc'))
from diff_configs import config_diff, flatten  # noqa: E402


def test_flatten_keeps_value_lists_whole():
    cfg = dict(a=dict(b=1, mean=[1, 2]), hooks=[dict(type='X', k=3)])
    assert flatten(cfg) == {
        'a.b': 1,
        'a.mean': [1, 2],
        'hooks.0.type': 'X',
        'hooks.0.k': 3
    }


def test_config_diff_names_every_change():
    old = dict(model=dict(data_preprocessor=dict(to_rgb=True), lr=0.1),
               keep=1)
    new = dict(data_preprocessor=dict(to_rgb=True), model=dict(lr=0.2),
               keep=1)
    assert config_diff(old, new) == [
        "+ data_preprocessor.to_rgb: True",
        "- model.data_preprocessor.to_rgb: True",
        '~ model.lr: 0.1 -> 0.2',
    ]
    assert config_diff(new, new) == []
