# Unsupervised SYSU-MM01 batches as ADCA / PGM build them (docs/en/recipes.md
# §5): the views of unsup_two_view_pipelines.py; 8 RGB and 16 IR
# pseudo-identities x 16 images per batch (384 items, 512 images: -b 256,
# the RGB loader at half of it, two views), a pass over every cluster each
# epoch, camera-aware within a cluster (cluster-contrast's
# RandomMultipleGallerySampler, which both run), 200 iterations an epoch.
# The clustered feature is theirs: the mean of the L2-normalised features
# of an image and of its flip, not renormalised. ADCA: yangbincv/ADCA
# adca_sysu_train.py L45-91, L527-533, run_train_sysu.sh; PGM:
# zesenwu23/USL-VI-ReID train_sysu.py L52-98, L527-533, run_train_sysu.sh.
_base_ = ['./sysu_mm01_unsup.py', './unsup_two_view_pipelines.py']

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
