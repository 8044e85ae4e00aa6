# Unsupervised cluster-contrast baseline (ADCA / PGM style) on RegDB (one
# model per trial): eps 0.3, 100 iterations an epoch; otherwise as the
# SYSU-MM01 config.
_base_ = [
    '../_base_/models/cluster_contrast_r50.py', '../_base_/datasets/regdb.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

num_pids, num_instances = 8, 16
train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    sampler=dict(
        type='PseudoLabelSampler',
        num_pids=num_pids,
        num_instances=num_instances,
        iters_per_epoch=100),
    dataset=dict(pipeline={{_base_.channel_aug_train_pipeline}}))

custom_hooks = [
    dict(
        type='ClusteringHook',
        pipeline={{_base_.test_pipeline}},
        k1=30,
        k2=6,
        eps=0.3,
        min_samples=4,
        dataloader=dict(batch_size=128, num_workers=4)),
]

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/mAP', rule='greater'))
