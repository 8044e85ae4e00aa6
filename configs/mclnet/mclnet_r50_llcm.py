# MCLNet on LLCM: the released recipe of mclnet_r50_sysu.py with LLCM's data;
# the released LLCM loader applies the RGB transform (with its grayscale) to
# both modalities (main_train.py L126). Validation reports both directions
# (llcm/vis2nir/..., llcm/nir2vis/...); the released test_mode [2, 1] is
# vis2nir (visible queries).
_base_ = ['./mclnet_r50_sysu.py']

dataset_type = 'LLCMDataset'
data_root = 'data/llcm'

# 713 training identities
model = dict(head=dict(num_classes=713))

train_pipeline = [
    dict(type='LoadVIReIDImage', imdecode_backend='pillow'),
    dict(
        type='Resize',
        scale=(144, 288),
        keep_ratio=False,
        backend='pillow',
        interpolation='lanczos'),
    dict(type='RandomCrop', crop_size=(288, 144), padding=10),
    dict(
        type='ModalityRandomGrayscale',
        prob=0.5,
        modalities=('rgb', 'ir'),
        gray_backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(protocol='llcm')
test_evaluator = dict(protocol='llcm')

default_hooks = dict(
    checkpoint=dict(save_best='llcm/vis2nir/R1', rule='greater'))
