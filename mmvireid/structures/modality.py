"""Modality codes of VI-ReID and their parsing: the one home of both.

Every image carries a ``modality``: :data:`RGB` (visible, day cameras) or
:data:`IR` (infrared / thermal / near-infrared, night cameras). Datasets write
it, transforms and samplers read it, and the model routes images by it
(:class:`VIReIDDataPreprocessor` hands the model an (N,) tensor of it).
"""
from numbers import Integral
from typing import Sequence, Tuple, Union

#: ``modality`` value of a visible (RGB) image.
RGB = 0
#: ``modality`` value of an infrared (IR / thermal / NIR) image.
IR = 1
#: Short name of each modality, used in logs, metrics and file names.
MODALITY_NAMES = {RGB: 'rgb', IR: 'ir'}
#: Names accepted wherever a modality is given by name (case-insensitive).
MODALITY_ALIASES = {
    'rgb': RGB,
    'visible': RGB,
    'vis': RGB,
    'ir': IR,
    'infrared': IR,
    'thermal': IR,
    'nir': IR,
}

ModalityType = Union[int, str]


def parse_modality(value: ModalityType, field: str = 'modality') -> int:
    """The modality code of ``value``.

    Args:
        value (int | str): ``0`` / ``'rgb'`` (also ``'visible'``, ``'vis'``)
            or ``1`` / ``'ir'`` (also ``'infrared'``, ``'thermal'``,
            ``'nir'``); names are case-insensitive.
        field (str): What ``value`` is, for the error message (e.g.
            ``"VIReIDMetric: setting 'all': query_modality"``).

    Returns:
        int: :data:`RGB` or :data:`IR`.

    Raises:
        ValueError: Naming ``field``, the value and the accepted ones.

    Example:
        >>> parse_modality('thermal')
        1
    """
    parsed = MODALITY_ALIASES.get(value.lower()) if isinstance(
        value, str) else value
    # integers only (numpy's too); bool is an int subclass: True is not IR
    if not isinstance(parsed, Integral) or isinstance(
            parsed, bool) or parsed not in MODALITY_NAMES:
        raise ValueError(
            f'{field} must be RGB (0 or one of '
            f'{sorted(k for k, v in MODALITY_ALIASES.items() if v == RGB)}) '
            'or IR (1 or one of '
            f'{sorted(k for k, v in MODALITY_ALIASES.items() if v == IR)}), '
            f'got {value!r}')
    return int(parsed)


def parse_modalities(values: Union[ModalityType, Sequence[ModalityType]],
                     field: str = 'modalities') -> Tuple[int, ...]:
    """Modality codes of a value or a non-empty sequence of values.

    Args:
        values (int | str | Sequence[int | str]): See :func:`parse_modality`.
        field (str): What ``values`` is, for the error message.

    Returns:
        tuple[int]: The codes, in the given order, e.g. ``(0,)``.

    Raises:
        ValueError: If ``values`` is empty or holds an unknown modality.
    """
    if isinstance(values, (int, str)):
        values = (values, )
    if not values:
        raise ValueError(f'{field} must name at least one modality, got '
                         f'{values!r}')
    return tuple(parse_modality(value, field) for value in values)
