"""Test and benchmark scaffolding: synthetic datasets in the official
layouts (as ``mmengine.testing`` and ``mmpretrain``'s test utilities, kept
out of the runtime packages)."""
from .synthetic_vireid import LAYOUTS, make_synthetic_vireid

__all__ = ['LAYOUTS', 'make_synthetic_vireid']
