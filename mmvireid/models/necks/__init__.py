from .deep_supervision_neck import DeepSupervisionNeck
from .separable_projection import SeparableConvProjection

__all__ = ['SeparableConvProjection', 'DeepSupervisionNeck']
