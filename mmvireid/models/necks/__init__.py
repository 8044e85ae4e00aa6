from .separable_projection import SeparableConvProjection

__all__ = ['SeparableConvProjection']
