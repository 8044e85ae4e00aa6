from .vireid_metric import DEFAULT_SETTINGS, VIReIDMetric

__all__ = ['VIReIDMetric', 'DEFAULT_SETTINGS']
