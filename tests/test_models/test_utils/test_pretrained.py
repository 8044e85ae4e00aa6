import pytest
import torch

from mmvireid.models.utils.pretrained import (load_pretrained_state_dict,
                                              pop_pretrained)


def test_pop_pretrained_keeps_the_other_initialisations():
    kaiming = dict(type='Kaiming', layer='Conv2d')
    pretrained = dict(type='Pretrained', checkpoint='a.pth')
    cfg = dict(type='ResNet', depth=18, init_cfg=[kaiming, pretrained])
    rest, popped = pop_pretrained(cfg, 'Owner')
    assert popped == pretrained and rest['init_cfg'] == [kaiming]
    assert cfg['init_cfg'] == [kaiming, pretrained]  # not modified
    rest, popped = pop_pretrained(dict(cfg, init_cfg=kaiming), 'Owner')
    assert popped is None and rest['init_cfg'] == kaiming
    rest, popped = pop_pretrained(dict(cfg, init_cfg=pretrained), 'Owner')
    assert popped == pretrained and 'init_cfg' not in rest
    with pytest.raises(ValueError,
                       match='Owner: the backbone init_cfg has 2 Pretrained '
                       'entries, expected at most one'):
        pop_pretrained(dict(cfg, init_cfg=[pretrained, pretrained]), 'Owner')


def test_load_pretrained_state_dict(tmp_path):
    weight, fc = torch.randn(3), torch.randn(2)
    path = str(tmp_path / 'classifier.pth')
    torch.save(
        dict(state_dict={
            'backbone.conv.weight': weight,
            'head.fc.weight': fc
        }), path)
    state = load_pretrained_state_dict(
        dict(checkpoint=path, prefix='backbone'), 'Owner')
    assert list(state) == ['conv.weight']
    torch.testing.assert_close(state['conv.weight'], weight)
    state = load_pretrained_state_dict(dict(checkpoint=path), 'Owner')
    assert set(state) == {'backbone.conv.weight', 'head.fc.weight'}
    with pytest.raises(ValueError,
                       match=f"Owner: no key of {path} starts with the "
                       "prefix 'neck.'"):
        load_pretrained_state_dict(dict(checkpoint=path, prefix='neck'),
                                   'Owner')
