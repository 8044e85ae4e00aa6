"""Progressive loss weight of SPCL-ID (docs/en/recipes.md §6)."""
import math

RAMP_MODES = ('linear', 'cosine')


def progressive_weight(epoch: float,
                       ramp_epochs: float = 20,
                       mode: str = 'linear',
                       start: float = 0.0,
                       end: float = 1.0) -> float:
    """Weight λ(e) that moves from ``start`` to ``end`` over ``ramp_epochs``.

    SPCL-ID trains with ``L = (1 - λ(e))·L_ins + λ(e)·L_sp + λ_cm(e)·L_cross``:
    instance discrimination first, cluster-level soft prototypes later. λ is
    a pure function of the (possibly fractional) epoch, so a resumed run needs
    no extra state and a per-iteration ramp passes ``epoch + iter / iters``.
    MMEngine's parameter schedulers cannot drive it because a loss weight is
    not an optimizer parameter (they set optimizer parameter groups).

    With ``t = clip(epoch / ramp_epochs, 0, 1)``:

    - ``'linear'``: ``λ = start + (end - start)·t``
    - ``'cosine'``: ``λ = start + (end - start)·(1 - cos(π·t)) / 2``

    so ``λ(0) = start`` and ``λ(e) = end`` for every ``e ≥ ramp_epochs``
    (``ramp_epochs=0`` gives ``end`` from the start).

    Args:
        epoch (float): Current epoch, 0-based, fractional allowed.
        ramp_epochs (float): Length of the ramp in epochs. Defaults to 20.
        mode (str): ``'linear'`` or ``'cosine'``. Defaults to ``'linear'``.
        start (float): Weight at epoch 0. Defaults to 0.
        end (float): Weight at the end of the ramp. Defaults to 1.

    Returns:
        float: The weight at ``epoch``.

    Example:
        >>> progressive_weight(5, ramp_epochs=20)
        0.25
        >>> # in a model that a hook hands the epoch to:
        >>> # lam = progressive_weight(self.epoch, **self.progressive_cfg)
    """
    if mode not in RAMP_MODES:
        raise ValueError(f'progressive_weight: mode must be one of '
                         f'{RAMP_MODES}, got {mode!r}')
    if ramp_epochs < 0:
        raise ValueError('progressive_weight: ramp_epochs must be >= 0, got '
                         f'{ramp_epochs}')
    if epoch < 0:
        raise ValueError(
            f'progressive_weight: epoch must be >= 0, got {epoch}')
    t = 1.0 if epoch >= ramp_epochs else epoch / ramp_epochs
    if mode == 'cosine':
        t = (1.0 - math.cos(math.pi * t)) / 2.0
    return start + (end - start) * t
