# SPCL-ID on RegDB (one model per trial; see configs/_base_/datasets/regdb.py
# for choosing the trial): 288x144, k1 30, k2 6, eps 0.3, min_samples 4;
# 8 pseudo-identities x 16 instances per modality, 100 iterations an epoch,
# Adam 3.5e-4, 50 epochs.
_base_ = [
    '../_base_/models/spcl_id_r50.py', '../_base_/datasets/regdb_unsup.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

# 4,120 training images: the instance loss uses every slot
model = dict(head=dict(loss_instance=dict(num_negatives=None)))

# the clustering of the dataset base, then the epoch handed to the head's
# progressive schedule
custom_hooks = _base_.custom_hooks + [dict(type='ProgressiveScheduleHook')]

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/mAP', rule='greater'))
