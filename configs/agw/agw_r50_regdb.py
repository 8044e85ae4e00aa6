_base_ = [
    '../_base_/models/agw_r50.py', '../_base_/datasets/regdb.py',
    '../_base_/schedules/agw_sgd_80e.py', '../_base_/default_runtime.py'
]

# 206 training identities per trial; one model per trial.
model = dict(head=dict(num_classes=206))

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/mAP', rule='greater'))
