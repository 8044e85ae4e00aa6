# MCLNet on RegDB: the released recipe of mclnet_r50_sysu.py with RegDB's
# data, one model per trial (1..10), evaluated on the trial's own test split
# in both directions (regdb/visible2thermal/..., regdb/thermal2visible/...;
# the released test scores one model on all ten trials' splits, which overlap
# its training ids). Trial 3:
#   python tools/train.py configs/mclnet/mclnet_r50_regdb.py \
#       --work-dir work_dirs/mclnet_r50_regdb_trial3 \
#       --cfg-options train_dataloader.dataset.trial=3 \
#       val_dataloader.dataset.trial=3 test_dataloader.dataset.trial=3
# and report the mean over the ten trials' models.
_base_ = ['./mclnet_r50_sysu.py']

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
val_evaluator = dict(protocol='regdb')
test_evaluator = dict(protocol='regdb')

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/R1', rule='greater'))
