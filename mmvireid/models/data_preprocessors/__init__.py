from .batch_random_erasing import BatchRandomErasing
from .vireid_data_preprocessor import VIReIDDataPreprocessor

__all__ = ['BatchRandomErasing', 'VIReIDDataPreprocessor']
