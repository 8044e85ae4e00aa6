from .bnneck_head import BNNeckHead
from .mclnet_head import MCLNetHead
from .memory_contrast_head import MemoryContrastHead

__all__ = ['BNNeckHead', 'MCLNetHead', 'MemoryContrastHead']
