import math

import pytest

from mmvireid.models.utils import progressive_weight


def test_linear_hand_values():
    assert progressive_weight(0) == 0.0
    assert progressive_weight(5) == pytest.approx(0.25)
    assert progressive_weight(20) == 1.0
    assert progressive_weight(35) == 1.0
    # start/end: 0.2 + 0.6 * 10 / 20
    assert progressive_weight(10, start=0.2, end=0.8) == pytest.approx(0.5)
    # a decreasing ramp, e.g. the weight of L_ins
    assert progressive_weight(15, start=1.0, end=0.0) == pytest.approx(0.25)


def test_fractional_epochs_for_per_iteration_ramps():
    # epoch 2 + 50 / 100 iterations, ramp of 10 epochs
    assert progressive_weight(2.5, ramp_epochs=10) == pytest.approx(0.25)


def test_cosine_hand_values():
    assert progressive_weight(0, mode='cosine') == pytest.approx(0.0)
    assert progressive_weight(10, mode='cosine') == pytest.approx(0.5)
    # (1 - cos(pi / 4)) / 2
    assert progressive_weight(5, mode='cosine') == pytest.approx(
        (1 - math.sqrt(0.5)) / 2)
    assert progressive_weight(20, mode='cosine') == pytest.approx(1.0)
    assert progressive_weight(40, mode='cosine') == 1.0


def test_cosine_is_monotone_and_within_bounds():
    values = [progressive_weight(e / 4, mode='cosine') for e in range(100)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert min(values) == 0.0 and max(values) == 1.0


def test_zero_ramp_gives_end():
    assert progressive_weight(0, ramp_epochs=0, start=0.3, end=0.7) == 0.7


@pytest.mark.parametrize('kwargs', [
    dict(epoch=1, mode='step'),
    dict(epoch=-1),
    dict(epoch=1, ramp_epochs=-5),
])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match='progressive_weight'):
        progressive_weight(**kwargs)
