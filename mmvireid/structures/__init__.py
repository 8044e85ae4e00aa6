from .modality import (IR, MODALITY_ALIASES, MODALITY_NAMES, RGB,
                       parse_modalities, parse_modality)

__all__ = [
    'RGB', 'IR', 'MODALITY_NAMES', 'MODALITY_ALIASES', 'parse_modality',
    'parse_modalities'
]
