# SPCL-ID on SYSU-MM01 (docs/en/recipes.md §5, §6): 288x144, k1 30, k2 6,
# eps 0.6, min_samples 4; 8 pseudo-identities x 16 instances per modality
# (256 images a batch), 200 iterations an epoch, Adam 3.5e-4, 50 epochs.
_base_ = [
    '../_base_/models/spcl_id_r50.py',
    '../_base_/datasets/sysu_mm01_unsup.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

# the clustering of the dataset base, then the epoch handed to the head's
# progressive schedule
custom_hooks = _base_.custom_hooks + [dict(type='ProgressiveScheduleHook')]

default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/mAP', rule='greater'))
