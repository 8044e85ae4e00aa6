# Unsupervised cluster-contrast baseline (docs/en/recipes.md §5, as ADCA /
# PGM): the AGW-style two-stream ResNet-50 (modality-specific stem, last
# stride 1), GeM, BN-neck; the L2-normalised BN-neck feature is contrasted
# with a cluster memory per modality (InfoNCE, tau 0.05, momentum 0.1 = the
# OLD prototype keeps 10 %) and, through the Hungarian association of RGB
# and IR clusters, with the other modality's memory (weight lambda_cm = 0.5,
# ours). No instance memory, no schedule. Pseudo-labels come from
# ClusteringHook (custom_hooks of the unsupervised dataset bases,
# ../datasets/*_unsup.py).
_base_ = ['./agw_r50.py']

model = dict(
    head=dict(
        _delete_=True,
        type='SPCLHead',
        in_channels=2048,
        cluster_memory=dict(
            type='ClusterMemory', momentum=0.1, temperature=0.05,
            mode='mean'),
        loss_intra=dict(type='ClusterContrastLoss', loss_weight=1.0),
        loss_cross=dict(type='ClusterContrastLoss', loss_weight=0.5),
        loss_instance=None,
        progressive=None))
