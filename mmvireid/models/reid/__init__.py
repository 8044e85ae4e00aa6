from .vireid import VIReID

__all__ = ['VIReID']
