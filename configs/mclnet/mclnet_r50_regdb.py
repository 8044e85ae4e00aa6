# MCLNet on RegDB: one model per trial (1..10), evaluated on the trial's own
# test split in both directions (regdb/visible2thermal/...,
# regdb/thermal2visible/...). The trial is set in the dataset base
# (configs/_base_/datasets/regdb.py, trial 1); on the command line override
# the datasets (a top-level `trial=` override comes too late), e.g. trial 3:
#   python tools/train.py configs/mclnet/mclnet_r50_regdb.py \
#       --work-dir work_dirs/mclnet_r50_regdb_trial3 \
#       --cfg-options train_dataloader.dataset.trial=3 \
#       val_dataloader.dataset.trial=3 test_dataloader.dataset.trial=3
# and report the mean over the ten trials' models.
_base_ = [
    '../_base_/models/mclnet_r50.py', '../_base_/datasets/regdb.py',
    '../_base_/schedules/mclnet_sgd_151e.py', '../_base_/default_runtime.py'
]

# 206 training identities per trial
model = dict(head=dict(num_classes=206))

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/mAP', rule='greater'))
