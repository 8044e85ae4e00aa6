from types import SimpleNamespace

import pytest
from torch import nn

from mmvireid.engine.hooks import ProgressiveScheduleHook
from mmvireid.models.heads import MemoryContrastHead


def runner_with(model, epoch=3, iters=4):
    return SimpleNamespace(
        model=model, epoch=epoch, train_dataloader=[None] * iters)


def test_hands_the_epoch_to_every_module_with_set_epoch():
    head = MemoryContrastHead(in_channels=4,
                              progressive=dict(ramp_epochs=8))
    other = MemoryContrastHead(in_channels=4,
                               progressive=dict(ramp_epochs=6))
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(head), other)
    ProgressiveScheduleHook().before_train_iter(runner_with(model), 2)
    assert head.epoch == other.epoch == 3
    assert head.progress_weight == pytest.approx(3 / 8)
    assert other.progress_weight == pytest.approx(3 / 6)
    # per iteration: epoch + batch_idx / iterations per epoch
    ProgressiveScheduleHook(by_epoch=False).before_train_iter(
        runner_with(model), 2)
    assert head.epoch == 3.5
    assert head.progress_weight == pytest.approx(3.5 / 8)


def test_a_model_without_set_epoch_is_an_error():
    with pytest.raises(RuntimeError, match='no module of the model has'):
        ProgressiveScheduleHook().before_train_iter(
            runner_with(nn.Linear(2, 2)), 0)
