# MCLNet on SYSU-MM01. Validation reports all-search (sysu/all/...) and
# indoor-search (sysu/indoor/...), single-shot, mean over ten galleries.
#   python tools/train.py configs/mclnet/mclnet_r50_sysu.py
#   python tools/test.py configs/mclnet/mclnet_r50_sysu.py CHECKPOINT
_base_ = [
    '../_base_/models/mclnet_r50.py', '../_base_/datasets/sysu_mm01.py',
    '../_base_/schedules/mclnet_sgd_151e.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(num_classes=395))

default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/mAP', rule='greater'))
