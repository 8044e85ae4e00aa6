# The AGW-style two-stream baseline sized for a 2-core CPU (the supervised
# reference of the synthetic tables in configs/mclnet and configs/spcl_id),
# trained from scratch on the synthetic dataset in SYSU-MM01's layout
#   python tools/dataset_converters/make_synthetic_vireid.py \
#       --layout sysu --out data/synthetic_sysu
# and evaluated with the SYSU protocol (all-search and indoor-search, ten
# single-shot galleries). No pretrained weights (nothing is downloaded).
_base_ = [
    '../_base_/models/agw_r50.py', '../_base_/datasets/sysu_mm01.py',
    '../_base_/schedules/agw_sgd_80e.py', '../_base_/default_runtime.py'
]

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
    head=dict(in_channels=512, num_classes=32))

train_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='RandomCrop', crop_size=(img_h, img_w), padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='PackVIReIDInputs'),
]
test_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(
    num_workers=1,
    sampler=dict(iters_per_epoch=20),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.1),
]
train_cfg = dict(max_epochs=18, val_interval=6)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=6, save_best='sysu/all/mAP', rule='greater'))
