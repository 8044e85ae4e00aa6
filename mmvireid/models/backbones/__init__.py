from .non_local import NonLocalBlock
from .two_stream_backbone import TwoStreamBackbone
from .two_stream_resnet import TwoStreamResNet

__all__ = ['NonLocalBlock', 'TwoStreamBackbone', 'TwoStreamResNet']
