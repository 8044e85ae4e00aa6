# SYSU-MM01 in its official layout (docs/en/dataset_prepare.md), 288x144.
dataset_type = 'SYSUMM01Dataset'
data_root = 'data/sysu_mm01'
img_h, img_w = 288, 144
num_pids, num_instances = 4, 4  # a batch: P ids x (K RGB + K IR)

# Batches as the model takes them: BGR -> RGB, ImageNet mean / std (those of
# the pretrained weights). MMEngine's Runner hands this to the model, whose
# own preprocessor type it configures (VIReID's VIReIDDataPreprocessor also
# gathers the (N,) modality tensor that routes images to their stream).
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='RandomCrop', crop_size=(img_h, img_w), padding=10),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='PackVIReIDInputs'),
]
# The same with the modality tricks of docs/en/recipes.md §2 (CAJ / ADCA /
# PGM): a visible image is often replaced by one of its colour channels or
# its gray version, an IR one by one of its channels. The unsupervised
# configs train with it (sysu_mm01_unsup.py, regdb_unsup.py).
channel_aug_train_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='RandomCrop', crop_size=(img_h, img_w), padding=10),
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

train_dataloader = dict(
    batch_size=num_pids * 2 * num_instances,
    num_workers=4,
    sampler=dict(
        type='CrossModalityIdentitySampler',
        num_pids=num_pids,
        num_instances=num_instances),
    # _scope_: built (with its pipeline) in mmvireid's scope even by tools
    # that force mmpretrain's, e.g. mmpretrain's browse_dataset.py
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline,
        _scope_='mmvireid'))

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline,
        _scope_='mmvireid'))
# all-search and indoor-search, ten single-shot galleries (seeds 0-9)
val_evaluator = dict(type='VIReIDMetric', protocol='sysu')

test_dataloader = val_dataloader
test_evaluator = val_evaluator
