# Unsupervised cluster-contrast baseline (ADCA / PGM style) on SYSU-MM01:
# per-modality cluster memory + Hungarian association of RGB and IR
# clusters; 288x144, k1 30, k2 6, eps 0.6, min_samples 4; 8 pseudo-identities
# x 16 instances per modality, 200 iterations an epoch, Adam 3.5e-4.
_base_ = [
    '../_base_/models/cluster_contrast_r50.py',
    '../_base_/datasets/sysu_mm01_unsup.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/mAP', rule='greater'))
