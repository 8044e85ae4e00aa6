# SPCL-ID on SYSU-MM01 (methods.md sections 5, 6): 288x144, k1 30, k2 6,
# eps 0.6, min_samples 4; 8 pseudo-identities x 16 instances per modality
# (256 images a batch), 200 iterations an epoch, Adam 3.5e-4, 50 epochs.
_base_ = [
    '../_base_/models/spcl_id_r50.py', '../_base_/datasets/sysu_mm01.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

num_pids, num_instances = 8, 16
train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    sampler=dict(
        type='PseudoLabelSampler',
        num_pids=num_pids,
        num_instances=num_instances,
        iters_per_epoch=200),
    dataset=dict(pipeline={{_base_.channel_aug_train_pipeline}}))

custom_hooks = [
    dict(
        type='ClusteringHook',
        pipeline={{_base_.test_pipeline}},
        k1=30,
        k2=6,
        eps=0.6,
        min_samples=4,
        dataloader=dict(batch_size=128, num_workers=4)),
    dict(type='ProgressiveScheduleHook'),
]

default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/mAP', rule='greater'))
