from .two_stream_resnet import TwoStreamResNet

__all__ = ['TwoStreamResNet']
