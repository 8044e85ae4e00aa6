# Unsupervised RegDB batches as ADCA / PGM build them: as
# sysu_mm01_unsup_two_view.py with RegDB's eps 0.3 and 100 iterations an
# epoch (ADCA adca_regdb_train.py L376-383, L495-501, run_train_regdb.sh;
# PGM train_regdb.py L368-377, L491-497, run_train_regdb.sh).
_base_ = ['./regdb_unsup.py', './unsup_two_view_pipelines.py']

num_instances = 16
train_dataloader = dict(
    batch_size=(8 + 16) * num_instances,
    collate_fn=dict(type='mmvireid.multi_view_collate'),
    sampler=dict(
        type='PseudoLabelSampler',
        # per modality (_delete_: the base's num_pids is one number)
        num_pids=dict(_delete_=True, rgb=8, ir=16),
        num_instances=num_instances,
        iters_per_epoch=100,
        camera_aware=True),
    dataset=dict(pipeline=_base_.two_view_train_pipeline))

clustering_hook = dict(
    type='ClusteringHook',
    pipeline=_base_.cluster_pipeline,
    k1=30,
    k2=6,
    eps=0.3,
    min_samples=4,
    flip_fusion='mean_of_normalized',
    dataloader=dict(batch_size=128, num_workers=4))
custom_hooks = [clustering_hook]
