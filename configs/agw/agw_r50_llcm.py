# AGW on LLCM (the AGW code has no LLCM loader): the released recipe of
# agw_r50_sysu.py with LLCM's data and protocol.
_base_ = ['./agw_r50_sysu.py']

dataset_type = 'LLCMDataset'
data_root = 'data/llcm'

# 713 training identities
model = dict(head=dict(num_classes=713))

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
# vis2nir (visible queries) and nir2vis (NIR queries), one random gallery
# image per id and camera
val_evaluator = dict(protocol='llcm')
test_evaluator = dict(protocol='llcm')

default_hooks = dict(
    checkpoint=dict(save_best='llcm/nir2vis/R1', rule='greater'))
