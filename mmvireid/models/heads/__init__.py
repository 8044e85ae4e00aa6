from .bnneck_head import BNNeckHead
from .mclnet_head import MCLNetHead
from .spcl_head import SPCLHead

__all__ = ['BNNeckHead', 'MCLNetHead', 'SPCLHead']
