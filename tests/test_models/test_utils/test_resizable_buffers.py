import pytest
import torch
from torch import nn

from mmvireid.models.utils import resize_buffers


class Bank(nn.Module):

    def __init__(self):
        super().__init__()
        self.register_buffer('rows', torch.zeros(0, 2))
        self.register_buffer('fixed', torch.zeros(3))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        resize_buffers(self, state_dict, prefix, ('rows', ))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def test_named_buffers_take_the_saved_length():
    parent = nn.Sequential(Bank())
    rows = torch.arange(10.).view(5, 2)
    parent.load_state_dict({'0.rows': rows, '0.fixed': torch.ones(3)})
    assert torch.equal(parent[0].rows, rows)
    assert torch.equal(parent[0].fixed, torch.ones(3))


def test_other_buffers_and_trailing_shapes_are_not_resized():
    with pytest.raises(RuntimeError, match='size mismatch for fixed'):
        Bank().load_state_dict({'rows': torch.zeros(1, 2),
                                'fixed': torch.ones(4)})
    with pytest.raises(RuntimeError, match='size mismatch for rows'):
        Bank().load_state_dict({'rows': torch.zeros(1, 3),
                                'fixed': torch.ones(3)})
