# RegDB, one trial (1..10) per model, 288x144: the SYSU-MM01 pipelines and
# batches with RegDB's dataset and protocol. Another trial:
#   --cfg-options train_dataloader.dataset.trial=3 \
#       val_dataloader.dataset.trial=3 test_dataloader.dataset.trial=3
_base_ = ['./sysu_mm01.py']

dataset_type = 'RegDBDataset'
data_root = 'data/regdb'
trial = 1

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, trial=trial))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, trial=trial))
test_dataloader = val_dataloader
# visible2thermal and thermal2visible on the trial's fixed test split
val_evaluator = dict(type='VIReIDMetric', protocol='regdb')
test_evaluator = val_evaluator
