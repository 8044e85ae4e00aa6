# MCLNet's recipe sized for a 2-core CPU: ResNet-18 (stem + layer1 + layer2
# per modality), 64x32 input, trained from scratch on the synthetic dataset
# in SYSU-MM01's layout
#   python tools/dataset_converters/make_synthetic_vireid.py \
#       --layout sysu --out data/synthetic_sysu
# Data, schedule, batch, evaluation and seed are those of the AGW synthetic
# config (inherited), so the two compare; MCLNet's model and the two parts
# of its data recipe that AGW's lacks (RGB grayscale, erasing after
# normalisation, as mclnet_r50_sysu.py) differ.
_base_ = '../agw/agw_r18_synthetic_sysu.py'

model = dict(
    backbone=dict(
        num_specific_stages=2,
        non_local_blocks=None,
        backbone=dict(out_indices=(0, 1, 2, 3))),
    neck=dict(
        _delete_=True,
        type='DeepSupervisionNeck',
        in_channels=(64, 128, 256, 512),
        out_channels=512,
        num_specific_projections=2,
        projection=dict(type='SeparableConvProjection', last_stride=2),
        pooling=dict(type='GlobalAveragePooling')),
    head=dict(
        _delete_=True,
        type='MCLNetHead',
        in_channels=512,
        num_classes=32,
        loss_id=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=None,
        loss_mmd=dict(
            type='ClassWiseMMDLoss',
            kernel_mul=2.0,
            kernel_num=5,
            loss_weight=0.25),
        loss_supcon=dict(
            type='SupConLoss',
            temperature=0.1,
            scale_by_temperature=True,
            loss_weight=5.0),
        loss_hks=dict(
            type='HierarchicalKnowledgeSynergyLoss',
            temperature=1.0,
            eps=1e-8,
            loss_weight=5.0),
        bnneck_init_std=0.01))

train_pipeline = [
    dict(type='LoadVIReIDImage', imdecode_backend='pillow'),
    dict(
        type='Resize',
        scale=(32, 64),
        keep_ratio=False,
        backend='pillow',
        interpolation='lanczos'),
    dict(type='RandomCrop', crop_size=(64, 32), padding=2),
    dict(
        type='ModalityRandomGrayscale',
        prob=0.5,
        modalities=('rgb', ),
        gray_backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
data_preprocessor = dict(
    batch_augments=[dict(type='BatchRandomErasing', prob=0.5)])
