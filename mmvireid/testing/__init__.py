"""Helpers for tests and benchmarks; nothing at run time imports them."""
from .dense_jaccard import dense_jaccard, dense_knn

__all__ = ['dense_jaccard', 'dense_knn']
