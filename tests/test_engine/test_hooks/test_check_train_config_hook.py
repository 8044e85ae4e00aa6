"""CheckTrainConfigHook: batch size vs sampler and num_classes vs
identities fail before the first step, naming the config keys."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch.nn as nn
from torch.utils.data import DataLoader

from mmvireid.datasets import BaseVIReIDDataset
from mmvireid.engine.hooks import CheckTrainConfigHook, check_train_config_hook
from mmvireid.registry import DATA_SAMPLERS
from mmvireid.structures import IR, RGB


class SixIds(BaseVIReIDDataset):
    """Train split: pids 0..5, 3 RGB + 3 IR images each."""

    def __init__(self, data_root):
        super().__init__(data_root=data_root, serialize_data=False)

    def load_data_list(self):
        return [
            dict(
                img_path=f'{pid}_{modality}_{i}.jpg',
                pid=pid,
                camid=1 + 2 * modality,
                modality=modality) for pid in range(6)
            for modality in (RGB, IR) for i in range(3)
        ]


def fake_runner(tmp_path,
                batch_size,
                num_classes,
                sampler='CrossModalityIdentitySampler',
                **sampler_cfg):
    dataset = SixIds(str(tmp_path))
    sampler = DATA_SAMPLERS.build(
        dict(type=sampler, num_pids=2, num_instances=3, **sampler_cfg),
        default_args=dict(dataset=dataset, seed=0))
    model = nn.Module()
    model.head = nn.Module()
    model.head.num_classes = num_classes
    return SimpleNamespace(
        train_dataloader=DataLoader(
            dataset, batch_size=batch_size, sampler=sampler),
        model=model)


def test_matching_config_passes(tmp_path):
    CheckTrainConfigHook().before_train(fake_runner(tmp_path, 12, 6))


@pytest.mark.parametrize(
    'sampler', ['CrossModalityIdentitySampler', 'PseudoLabelSampler'])
@pytest.mark.parametrize('batch_size', [6, 16])
def test_batch_size_must_be_the_samplers(tmp_path, sampler, batch_size):
    kwargs = dict(label_key='pid') if sampler == 'PseudoLabelSampler' else {}
    runner = fake_runner(tmp_path, batch_size, 6, sampler, **kwargs)
    layout = (r'sampler.num_pids \(2\) x 2 modalities x '
              r'sampler.num_instances \(3\) = 12 images per batch')
    if sampler == 'PseudoLabelSampler':  # P per modality, items (views)
        layout = (r'\(sampler.num_pids RGB 2 \+ IR 2\) x '
                  r'sampler.num_instances \(3\) = 12 items per batch.*')
    with pytest.raises(
            ValueError,
            match=rf'train_dataloader.batch_size={batch_size} does not '
            rf'match its {sampler}: {layout}; set '
            r'train_dataloader.batch_size=12'):
        CheckTrainConfigHook().before_train(runner)


def test_too_few_classes(tmp_path):
    with pytest.raises(
            ValueError,
            match=r'model.head.num_classes=5 is smaller than the 6 '
            r'identities of train_dataloader.dataset \(SixIds, data_root='
            r".*\(pids 0..5\); set model.head.num_classes=6"):
        CheckTrainConfigHook().before_train(fake_runner(tmp_path, 12, 5))


def test_too_many_classes_warn(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(check_train_config_hook, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    CheckTrainConfigHook().before_train(fake_runner(tmp_path, 12, 395))
    assert len(logged) == 1
    assert 'model.head.num_classes=395 but' in logged[0]
    assert '6 identities: 389 classifier rows are never trained' in logged[0]


def test_pseudo_labels_and_heads_without_classes_are_not_checked(tmp_path):
    dataset = SixIds(str(tmp_path))
    dataset.set_pseudo_labels(np.arange(len(dataset)) % 2)
    runner = fake_runner(tmp_path, 12, 6)
    runner.train_dataloader = DataLoader(
        dataset,
        batch_size=12,
        sampler=DATA_SAMPLERS.build(
            dict(type='PseudoLabelSampler', num_pids=2, num_instances=3),
            default_args=dict(dataset=dataset, seed=0)))
    runner.model.head.num_classes = 1
    CheckTrainConfigHook().before_train(runner)
    runner = fake_runner(tmp_path, 12, 0)
    CheckTrainConfigHook().before_train(runner)
