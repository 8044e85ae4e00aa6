# Unsupervised training on RegDB, one model per trial (docs/en/recipes.md
# §5, as ADCA / PGM): as sysu_mm01_unsup.py with RegDB's eps 0.3 and 100
# iterations an epoch (4,120 training images).
_base_ = ['./regdb.py']

num_pids, num_instances = 8, 16
train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    sampler=dict(
        type='PseudoLabelSampler',
        num_pids=num_pids,
        num_instances=num_instances,
        iters_per_epoch=100),
    dataset=dict(pipeline=_base_.channel_aug_train_pipeline))

custom_hooks = [
    dict(
        type='ClusteringHook',
        pipeline=_base_.test_pipeline,
        k1=30,
        k2=6,
        eps=0.3,
        min_samples=4,
        dataloader=dict(batch_size=128, num_workers=4)),
]
