# MCLNet on LLCM. Validation reports both directions (llcm/vis2nir/...,
# llcm/nir2vis/...), one random gallery image per id and camera, ten trials;
# the query set of each direction is documented in the LLCM dataset / metric.
_base_ = [
    '../_base_/models/mclnet_r50.py', '../_base_/datasets/llcm.py',
    '../_base_/schedules/mclnet_sgd_151e.py', '../_base_/default_runtime.py'
]

# 713 training identities
model = dict(head=dict(num_classes=713))

default_hooks = dict(
    checkpoint=dict(save_best='llcm/nir2vis/mAP', rule='greater'))
