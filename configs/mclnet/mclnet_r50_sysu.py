# MCLNet on SYSU-MM01 as its authors' code trains it (main_train.py with
# config/baseline.yaml, dataset: sysu; the recipe table with file and line
# is in configs/mclnet/README.md). Validation reports all-search
# (sysu/all/...) and indoor-search (sysu/indoor/...).
#   python tools/train.py configs/mclnet/mclnet_r50_sysu.py
#   python tools/test.py configs/mclnet/mclnet_r50_sysu.py CHECKPOINT
# The MCLNet RegDB and LLCM configs and the ablations inherit this file.
_base_ = [
    '../_base_/models/mclnet_r50.py', '../_base_/datasets/sysu_mm01.py',
    '../_base_/schedules/mclnet_sgd_151e.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(num_classes=395))

# Images decoded by PIL and resized to 144x288 with LANCZOS (the released
# pre-processing and test loader); RGB: pad 10 -> RandomGrayscale(0.5) ->
# random crop -> flip -> normalise -> RandomErasing(0.5); IR the same without
# the grayscale (main_train.py L78-97). The grayscale commutes with the pad
# and crop (gray(0) = 0), so it comes after them here; the erasing runs on
# the normalised batch, in the data preprocessor, value 0 as torchvision's.
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
    dict(
        type='ModalityRandomGrayscale',
        prob=0.5,
        modalities=('rgb', ),
        gray_backend='pillow'),
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
data_preprocessor = dict(
    batch_augments=[
        dict(
            type='BatchRandomErasing',
            prob=0.5,
            scale=(0.02, 0.33),
            ratio=(0.3, 3.3),
            value=0.)
    ])

# 4 ids x (4 RGB + 4 IR), the 4 images of an id drawn with replacement
train_dataloader = dict(
    sampler=dict(replace=True), dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# Validation as in training: one gallery draw (seed 0) every 2 epochs, the
# checkpoint kept by the BN-neck feature's rank-1 (main_train.py L207-246);
# tools/test.py scores the ten draws.
val_evaluator = dict(num_trials=1)
default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/R1', rule='greater'))
