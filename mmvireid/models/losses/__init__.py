from .cluster_contrast_loss import ClusterContrastLoss
from .hks_loss import HierarchicalKnowledgeSynergyLoss
from .instance_discrimination_loss import InstanceDiscriminationLoss
from .mmd_loss import ClassWiseMMDLoss
from .soft_prototype_contrast_loss import SoftPrototypeContrastLoss
from .supcon_loss import SupConLoss
from .triplet_loss import TripletLoss

__all__ = [
    'TripletLoss', 'HierarchicalKnowledgeSynergyLoss', 'ClassWiseMMDLoss',
    'SupConLoss', 'ClusterContrastLoss', 'InstanceDiscriminationLoss',
    'SoftPrototypeContrastLoss'
]
