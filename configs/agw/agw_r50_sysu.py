_base_ = [
    '../_base_/models/agw_r50.py', '../_base_/datasets/sysu_mm01.py',
    '../_base_/schedules/agw_sgd_80e.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(num_classes=395))

default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/mAP', rule='greater'))
