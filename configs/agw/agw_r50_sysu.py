# AGW on SYSU-MM01 as its released training script runs it (`python train.py
# --dataset sysu`, defaults: --method agw, --batch-size 8, --num_pos 4; the
# recipe table with file and line is in configs/agw/README.md):
#   python tools/train.py configs/agw/agw_r50_sysu.py
#   python tools/test.py configs/agw/agw_r50_sysu.py CHECKPOINT
# The AGW RegDB and LLCM configs inherit this file and swap the dataset.
_base_ = [
    '../_base_/models/agw_r50.py', '../_base_/datasets/sysu_mm01.py',
    '../_base_/schedules/agw_sgd_81e.py', '../_base_/default_runtime.py'
]

model = dict(
    # --method agw: five non-local blocks, after the last 2 blocks of layer2
    # and the last 3 of layer3, each with 1 inter channel
    backbone=dict(
        non_local_blocks=(0, 2, 3, 0),
        non_local_cfg=dict(type='NonLocalBlock', inter_channels=1)),
    # BN-neck weight ~ N(1, 0.01^2)
    head=dict(num_classes=395, bnneck_init_std=0.01),
    # the BN-neck feature of the image alone
    flip_test=False)

# Images decoded by PIL and resized to 144x288 with LANCZOS, as the community
# pre-processing (pre_process_sysu.py) and the test loader do; then pad 10,
# random crop, horizontal flip and (in the data preprocessor) normalisation;
# no erasing.
img_h, img_w = 288, 144
train_pipeline = [
    dict(type='LoadVIReIDImage', imdecode_backend='pillow'),
    dict(
        type='Resize',
        scale=(img_w, img_h),
        keep_ratio=False,
        backend='pillow',
        interpolation='lanczos'),
    dict(type='RandomCrop', crop_size=(img_h, img_w), padding=10),
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

# 8 ids x (4 RGB + 4 IR), the 4 images of an id drawn with replacement
num_pids, num_instances = 8, 4
train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    sampler=dict(
        num_pids=num_pids, num_instances=num_instances, replace=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# Validation as in training: one gallery draw (seed 0) every 2 epochs, the
# checkpoint kept by the BN-neck feature's all-search rank-1 (train.py
# L384-400); tools/test.py scores the ten draws.
val_evaluator = dict(num_trials=1)
default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/R1', rule='greater'))
