# AGW on RegDB (`python train.py --dataset regdb --trial t`): the released
# recipe of agw_r50_sysu.py with RegDB's data, one model per trial (1..10),
# tested on the trial's own split in both directions. Trial 3:
#   python tools/train.py configs/agw/agw_r50_regdb.py \
#       --work-dir work_dirs/agw_r50_regdb_trial3 \
#       --cfg-options train_dataloader.dataset.trial=3 \
#       val_dataloader.dataset.trial=3 test_dataloader.dataset.trial=3
_base_ = ['./agw_r50_sysu.py']

dataset_type = 'RegDBDataset'
data_root = 'data/regdb'
trial = 1

# 206 training identities per trial
model = dict(head=dict(num_classes=206))

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, trial=trial))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, trial=trial))
test_dataloader = val_dataloader
# visible2thermal and thermal2visible on the trial's fixed test split
val_evaluator = dict(protocol='regdb')
test_evaluator = dict(protocol='regdb')

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/R1', rule='greater'))
