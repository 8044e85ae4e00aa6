# ADCA (Yang et al., ACM MM 2022) stage 1 on SYSU-MM01, as its released code
# trains it (yangbincv/ADCA adca_sysu_train.py main_worker_stage1 from L382,
# run_train_sysu.sh): a cluster memory per modality, no cross-modality
# term, the mean memory update with momentum 0.1 (the OLD prototype keeps
# 10 %); the batches and the clustered feature of
# ../_base_/datasets/sysu_mm01_unsup_two_view.py; Adam 3.5e-4, weight decay
# 5e-4, x0.1 every 20 epochs, 50 epochs. Stage 2 (adca_r50_sysu_stage2.py)
# starts from this run's last checkpoint. What differs from the released
# code: README.md.
_base_ = [
    '../_base_/models/cluster_contrast_r50.py',
    '../_base_/datasets/sysu_mm01_unsup_two_view.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        cluster_memory=dict(momentum=0.1, mode='mean'), loss_cross=None))

default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/mAP', rule='greater'))
