from .cross_modality_identity_sampler import CrossModalityIdentitySampler
from .pseudo_label_sampler import PseudoLabelSampler

__all__ = ['CrossModalityIdentitySampler', 'PseudoLabelSampler']
