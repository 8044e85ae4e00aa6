# Unsupervised training on SYSU-MM01 (docs/en/recipes.md §5, as ADCA / PGM):
# no identity label is read. Every epoch ClusteringHook extracts the training
# images with the test pipeline and clusters each modality (k-reciprocal
# Jaccard distance with k1 30, k2 6, then DBSCAN with eps 0.6, min_samples
# 4); PseudoLabelSampler then draws 8 pseudo-identities x 16 images per
# modality (256 images a batch), 200 iterations an epoch, with the channel
# tricks of docs/en/recipes.md §2.
_base_ = ['./sysu_mm01.py']

num_pids, num_instances = 8, 16
train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    sampler=dict(
        type='PseudoLabelSampler',
        num_pids=num_pids,
        num_instances=num_instances,
        iters_per_epoch=200),
    dataset=dict(pipeline=_base_.channel_aug_train_pipeline))

custom_hooks = [
    dict(
        type='ClusteringHook',
        pipeline=_base_.test_pipeline,
        k1=30,
        k2=6,
        eps=0.6,
        min_samples=4,
        dataloader=dict(batch_size=128, num_workers=4)),
]
