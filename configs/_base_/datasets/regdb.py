# RegDB, one trial (1..10) per model: set `trial` with
# --cfg-options trial=3 is not enough (configs are read before overrides);
# override the datasets instead, e.g.
# --cfg-options train_dataloader.dataset.trial=3 val_dataloader.dataset.trial=3 test_dataloader.dataset.trial=3
dataset_type = 'RegDBDataset'
data_root = 'data/regdb'
trial = 1
img_h, img_w = 288, 144
num_pids, num_instances = 4, 4

train_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(type='Resize', scale=(img_w, img_h), keep_ratio=False),
    dict(type='RandomCrop', crop_size=(img_h, img_w), padding=10),
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
    batch_size=num_pids * 2 * num_instances,
    num_workers=4,
    sampler=dict(
        type='CrossModalityIdentitySampler',
        num_pids=num_pids,
        num_instances=num_instances),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        trial=trial,
        split='train',
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        trial=trial,
        split='test',
        pipeline=test_pipeline))
# visible->thermal and thermal->visible on the trial's fixed test split
val_evaluator = dict(type='VIReIDMetric', protocol='regdb')

test_dataloader = val_dataloader
test_evaluator = val_evaluator
