# LLCM in its official layout (docs/en/dataset_prepare.md), 288x144: the
# SYSU-MM01 pipelines and batches with LLCM's dataset and protocol.
_base_ = ['./sysu_mm01.py']

dataset_type = 'LLCMDataset'
data_root = 'data/llcm'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
# vis2nir (visible queries) and nir2vis (NIR queries), one random gallery
# image per id and camera, ten trials
val_evaluator = dict(type='VIReIDMetric', protocol='llcm')
test_evaluator = val_evaluator
