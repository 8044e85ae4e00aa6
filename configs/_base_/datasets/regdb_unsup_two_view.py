# Unsupervised RegDB batches as ADCA / PGM build them: as
# sysu_mm01_unsup_two_view.py with RegDB's eps 0.3 and 100 iterations an
# epoch (ADCA adca_regdb_train.py L376-383, L495-501, run_train_regdb.sh;
# PGM train_regdb.py L368-377, L491-497, run_train_regdb.sh).
_base_ = ['./regdb_unsup.py', './unsup_two_view_pipelines.py']

# The sampler's counts, the iterations per epoch and the clustering
# parameters are the base's; only the views, the batch and the clustered
# feature change.
train_dataloader = dict(
    batch_size=(8 + 16) * _base_.num_instances,
    collate_fn=dict(type='mmvireid.multi_view_collate'),
    sampler=dict(
        # per modality (_delete_: the base's num_pids is one number)
        num_pids=dict(_delete_=True, rgb=8, ir=16),
        camera_aware=True),
    dataset=dict(pipeline=_base_.two_view_train_pipeline))

clustering_hook = dict(
    _base_.custom_hooks[0],
    pipeline=_base_.cluster_pipeline,
    flip_fusion='mean_of_normalized')
custom_hooks = [clustering_hook]
