from .retrieval_graph import RetrievalGraph
from .vireid import VIReID

__all__ = ['RetrievalGraph', 'VIReID']
