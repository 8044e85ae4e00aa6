from .two_stream_backbone import TwoStreamBackbone
from .two_stream_resnet import TwoStreamResNet

__all__ = ['TwoStreamBackbone', 'TwoStreamResNet']
