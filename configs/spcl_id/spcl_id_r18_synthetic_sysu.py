# SPCL-ID quick start: sized for a 2-core CPU, trained from scratch (no
# pretrained weights, nothing downloaded) without any identity label on the
# synthetic dataset in SYSU-MM01's layout
#   python tools/dataset_converters/make_synthetic_vireid.py \
#       --layout sysu --out data/synthetic_sysu
# and evaluated with the SYSU protocol. ClusteringHook logs the adjusted
# Rand index of the pseudo-labels against the true ids every epoch.
_base_ = ['./spcl_id_r50_sysu.py']

data_root = 'data/synthetic_sysu/SYSU-MM01'
img_h, img_w = 64, 32

model = dict(
    backbone=dict(
        backbone=dict(
            _delete_=True,
            type='ResNet',
            depth=18,
            strides=(1, 2, 2, 1),
            out_indices=(3, ))),
    head=dict(
        in_channels=512,
        # a few hundred training images: every slot is a negative
        loss_instance=dict(num_negatives=None),
        progressive=dict(ramp_epochs=8)))

# The modality tricks of docs/en/recipes.md §2 (ADCA / PGM): visible images
# are often replaced by one of their colour channels or their gray version,
# which carries the grey structure an IR image shows.
train_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='RandomCrop', crop_size=(img_h, img_w), padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ChannelExchange', gray=3, prob=0.5),
    dict(type='ModalityRandomGrayscale', prob=0.5),
    dict(type='ChannelAdapGray', gray_prob=0.5),
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='PackVIReIDInputs'),
]
test_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='PackVIReIDInputs'),
]
num_pids, num_instances = 4, 4
# cluster_draw='per_batch' (ours): P random clusters per batch, K distinct
# images each. The released recipes draw passes over all clusters with an
# anchor + K - 1 companions, duplicates below K + 1 images: on these small
# clusters (3-10 images, K = 4) that trained to a far lower mAP (README).
train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    num_workers=1,
    sampler=dict(
        num_pids=num_pids,
        num_instances=num_instances,
        iters_per_epoch=30,
        cluster_draw='per_batch'),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# About 24 RGB and 12 IR images per identity: smaller neighbourhoods than
# the real datasets' (k1 30, eps 0.6 merge them into a handful of clusters).
# Chosen by sweeping k1, eps and min_samples on the features of a supervised
# model, scored by ARI against the true ids (configs/spcl_id/README.md).
clustering_hook = dict(
    type='ClusteringHook',
    pipeline=test_pipeline,
    k1=15,
    k2=6,
    eps=0.3,
    min_samples=3,
    dataloader=dict(batch_size=64, num_workers=1))
custom_hooks = [clustering_hook, dict(type='ProgressiveScheduleHook')]

# From scratch: a larger learning rate than the fine-tuning 3.5e-4.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='StepLR', by_epoch=True, step_size=20, gamma=0.1),
]
train_cfg = dict(max_epochs=24, val_interval=8)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=8, save_best='sysu/all/mAP', rule='greater'))
