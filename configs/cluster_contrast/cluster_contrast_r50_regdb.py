# Unsupervised cluster-contrast baseline (ADCA / PGM style) on RegDB (one
# model per trial): eps 0.3, 100 iterations an epoch; otherwise as the
# SYSU-MM01 config.
_base_ = [
    '../_base_/models/cluster_contrast_r50.py',
    '../_base_/datasets/regdb_unsup.py', '../_base_/schedules/adam_unsup.py',
    '../_base_/default_runtime.py'
]

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/mAP', rule='greater'))
