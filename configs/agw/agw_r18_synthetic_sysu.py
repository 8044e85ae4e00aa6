# The AGW recipe of agw_r50_sysu.py sized for a 2-core CPU (the supervised
# reference of the synthetic tables in configs/agw, configs/mclnet and
# configs/spcl_id), trained from scratch on the synthetic dataset in
# SYSU-MM01's layout
#   python tools/dataset_converters/make_synthetic_vireid.py \
#       --layout sysu --out data/synthetic_sysu
# and evaluated with the SYSU protocol (all-search and indoor-search, ten
# single-shot galleries). Scaled down: ResNet-18 without pretrained weights
# (nothing is downloaded), non-local blocks after both blocks of layer2 and
# layer3, 64x32 input (pad 2), 4 ids x (4 + 4) per batch, 18 epochs x 20
# iterations (per-epoch warm-up over 2 epochs, x0.1 at 12 and 16),
# validation every 6 epochs on the ten galleries.
_base_ = ['./agw_r50_sysu.py']

data_root = 'data/synthetic_sysu/SYSU-MM01'
img_h, img_w = 64, 32

model = dict(
    backbone=dict(
        non_local_blocks=(0, 2, 2, 0),
        backbone=dict(
            _delete_=True,
            type='ResNet',
            depth=18,
            strides=(1, 2, 2, 1),
            out_indices=(3, ))),
    head=dict(in_channels=512, num_classes=32))

train_pipeline = [
    dict(type='LoadVIReIDImage', imdecode_backend='pillow'),
    dict(
        type='Resize',
        scale=(img_w, img_h),
        keep_ratio=False,
        backend='pillow',
        interpolation='lanczos'),
    dict(type='RandomCrop', crop_size=(img_h, img_w), padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackVIReIDInputs'),
]
test_pipeline = [
    dict(type='LoadVIReIDImage', imdecode_backend='pillow'),
    dict(
        type='Resize',
        scale=(img_w, img_h),
        keep_ratio=False,
        backend='pillow',
        interpolation='lanczos'),
    dict(type='PackVIReIDInputs'),
]
num_pids, num_instances = 4, 4
train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    num_workers=1,
    sampler=dict(
        num_pids=num_pids, num_instances=num_instances, iters_per_epoch=20),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(num_trials=10)

param_scheduler = [
    # (e + 1) / 2 in epoch e = 0, 1: the released per-epoch warm-up
    dict(type='LinearLR', start_factor=0.5, by_epoch=True, begin=0, end=2),
    dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.1),
]
train_cfg = dict(max_epochs=18, val_interval=6)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=6, save_best='sysu/all/mAP', rule='greater'))
