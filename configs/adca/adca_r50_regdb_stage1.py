# ADCA stage 1 on RegDB, one trial per model (yangbincv/ADCA
# adca_regdb_train.py main_worker_stage1 from L341, run_train_regdb.sh): as
# adca_r50_sysu_stage1.py with RegDB's eps 0.3 and 100 iterations an epoch
# (../_base_/datasets/regdb_unsup_two_view.py). Another trial:
#   --cfg-options train_dataloader.dataset.trial=3 \
#       val_dataloader.dataset.trial=3 test_dataloader.dataset.trial=3
_base_ = [
    '../_base_/models/cluster_contrast_r50.py',
    '../_base_/datasets/regdb_unsup_two_view.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        cluster_memory=dict(momentum=0.1, mode='mean'), loss_cross=None))

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/mAP', rule='greater'))
