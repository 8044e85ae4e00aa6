"""Pseudo-labels for unsupervised VI-ReID (docs/en/recipes.md §5): exact
sparse k-reciprocal Jaccard distance, DBSCAN, cross-modal cluster
association."""
from .association import (ASSOCIATIONS, associate_clusters,
                          association_mappings, check_association,
                          instance_vote_association,
                          progressive_graph_matching)
from .centroids import cluster_centroids
from .cross_modal import (CrossModalPseudoLabels, check_clustering_args,
                          clustering_ari, cross_modal_pseudo_labels,
                          joint_pseudo_labels, outliers_as_singletons)
from .dbscan import cluster_dbscan
from .jaccard_distance import jaccard_distance, sparse_jaccard
from .k_reciprocal import (k_reciprocal_encoding, k_reciprocal_sets,
                           query_expansion)
from .knn import exact_knn
from .label_spaces import concat_pseudo_labels
from .pseudo_labels import pseudo_labels

__all__ = [
    'exact_knn', 'k_reciprocal_sets', 'k_reciprocal_encoding',
    'query_expansion', 'sparse_jaccard', 'jaccard_distance', 'cluster_dbscan',
    'pseudo_labels', 'cluster_centroids', 'associate_clusters',
    'progressive_graph_matching', 'instance_vote_association',
    'association_mappings', 'check_association', 'ASSOCIATIONS',
    'cross_modal_pseudo_labels', 'CrossModalPseudoLabels',
    'check_clustering_args', 'clustering_ari', 'joint_pseudo_labels',
    'outliers_as_singletons', 'concat_pseudo_labels'
]
