# SPCL-ID (docs/en/recipes.md §6, our formulation) on the cluster-contrast
# model of cluster_contrast_r50.py (AGW-style two-stream ResNet-50 with a
# modality-specific stem, last stride 1, GeM, BN-neck; the query is the
# L2-normalised BN-neck feature; a cluster memory per modality, momentum
# 0.1 = the OLD prototype keeps 10 %), with
# - soft prototype contrast within each modality: the centroid (alpha 0.5)
#   and its n = 4 nearest cluster members from the instance memory, weighted
#   by softmax(cos / tau_w) with tau_w = 0.1 (soft weighting), tau 0.05;
# - the same loss across modalities through the Hungarian association of
#   RGB and IR clusters, weight lambda_cm = 0.5 (ours);
# - instance discrimination against an instance memory (one slot per
#   training image, tau 0.05, 8192 sampled negatives);
# - the progressive schedule L = (1 - l(e)) L_ins + l(e) L_sp
#   + lambda_cm l(e) L_cross, l(e) a linear ramp from 0 to 1 over 20 epochs
#   (ProgressiveScheduleHook hands the epoch to the head).
# Pseudo-labels come from ClusteringHook (custom_hooks of the unsupervised
# dataset bases, ../datasets/*_unsup.py).
_base_ = ['./agw_r50.py']

model = dict(
    head=dict(
        _delete_=True,
        type='SPCLHead',
        in_channels=2048,
        cluster_memory=dict(
            type='ClusterMemory', momentum=0.1, temperature=0.05,
            mode='mean'),
        instance_memory=dict(type='InstanceMemory', momentum=0.1),
        loss_intra=dict(
            type='SoftPrototypeContrastLoss',
            num_soft_prototypes=4,
            alpha=0.5,
            temperature=0.05,
            weight_temperature=0.1,
            soft_weighting=True,
            loss_weight=1.0),
        loss_cross=dict(
            type='SoftPrototypeContrastLoss',
            num_soft_prototypes=4,
            alpha=0.5,
            temperature=0.05,
            weight_temperature=0.1,
            soft_weighting=True,
            loss_weight=0.5),
        loss_instance=dict(
            type='InstanceDiscriminationLoss',
            temperature=0.05,
            num_negatives=8192,
            loss_weight=1.0),
        progressive=dict(ramp_epochs=20, mode='linear')))
