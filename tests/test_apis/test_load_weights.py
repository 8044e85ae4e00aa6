import pytest
import torch
from torch import nn

from mmvireid.apis import load_weights
from mmvireid.models.memories import ClusterMemory


def toy():
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))


def save(path, state_dict):
    torch.save({'state_dict': state_dict, 'meta': {}}, path)
    return str(path)


def test_mismatch_names_every_kind_of_problem(tmp_path):
    model = toy()
    good = model.state_dict()
    # BatchNorm's num_batches_tracked may be absent
    load_weights(model, save(tmp_path / 'a.pth', {
        k: v
        for k, v in good.items() if 'num_batches' not in k
    }))
    bad = dict(good)
    del bad['1.running_var']
    bad['2.weight'] = torch.zeros(1)
    bad['0.weight'] = torch.zeros(8, 3, 1, 1)
    path = save(tmp_path / 'bad.pth', bad)
    with pytest.raises(ValueError) as error:
        load_weights(model, path, 'cfg.py')
    message = str(error.value)
    assert f"checkpoint {path!r} does not match" in message
    assert "config 'cfg.py'" in message
    assert '1 missing weights (e.g. 1.running_var)' in message
    assert '1 unexpected weights (e.g. 2.weight)' in message
    assert ('1 shape mismatches (e.g. 0.weight: checkpoint (8, 3, 1, 1) vs '
            'model (4, 3, 1, 1))') in message


def test_long_lists_are_cut_to_five_keys(tmp_path):
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(7)])
    path = save(tmp_path / 'empty.pth', {'x': torch.zeros(1)})
    with pytest.raises(ValueError,
                       match=r'14 missing weights \(e\.g\. 0\.weight, '
                       r'0\.bias, 1\.weight, 1\.bias, 2\.weight\); 1 '
                       r'unexpected weights \(e\.g\. x\)\. Use the config'):
        load_weights(model, path)


def test_ddp_prefix_and_checkpoint_errors(tmp_path):
    source, target = toy(), toy()
    nn.init.constant_(source[0].weight, 0.5)
    # a DDP checkpoint: keys prefixed with 'module.'
    state = {f'module.{k}': v for k, v in source.state_dict().items()}
    checkpoint = load_weights(target, save(tmp_path / 'ddp.pth', state))
    assert torch.equal(target[0].weight, source[0].weight)
    assert checkpoint['meta'] == {}

    torch.save([torch.zeros(1)], tmp_path / 'odd.pth')
    with pytest.raises(ValueError, match='holds no state dict'):
        load_weights(target, str(tmp_path / 'odd.pth'))
    with pytest.raises(FileNotFoundError, match='no such file'):
        load_weights(target, str(tmp_path / 'nope.pth'))


def test_memory_banks_take_the_saved_size_other_weights_may_not(tmp_path):
    model = nn.ModuleDict(dict(memory=ClusterMemory(4), fc=nn.Linear(4, 2)))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state['memory.features'] = torch.randn(3, 4)  # 3 clusters were saved
    load_weights(model, save(tmp_path / 'ckpt.pth', state))
    assert torch.equal(model['memory'].features, state['memory.features'])
    state['fc.weight'] = torch.randn(3, 4)
    with pytest.raises(ValueError, match='shape mismatches'):
        load_weights(model, save(tmp_path / 'bad.pth', state))
