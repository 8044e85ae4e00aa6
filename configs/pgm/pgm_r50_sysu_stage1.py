# PGM (Wu & Ye, CVPR 2023) stage 1 on SYSU-MM01, as its released code trains
# it (zesenwu23/USL-VI-ReID train_sysu.py main_worker_stage1 from L380,
# run_train_sysu.sh, training_logs_example/SYSU-MM01): a cluster memory per
# modality, no cross-modality term, the mean memory update with momentum
# 0.2 (the OLD prototype keeps 20 %); the batches and the clustered feature
# of ../_base_/datasets/sysu_mm01_unsup_two_view.py, with PGM's
# ColorJitter(0.5, 0.5, 0.5, 0.5) in the RGB copy and, in this stage on
# SYSU-MM01, in the IR view (L418-439); Adam 3.5e-4, weight decay 5e-4, x0.1
# every 20 epochs, 50 epochs. Stage 2 (pgm_r50_sysu_stage2.py) starts from
# this run's last checkpoint. What differs from the released code:
# README.md.
_base_ = [
    '../_base_/models/cluster_contrast_r50.py',
    '../_base_/datasets/sysu_mm01_unsup_two_view.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        cluster_memory=dict(momentum=0.2, mode='mean'), loss_cross=None))

color_jitter = dict(
    type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5,
    hue=0.5)
pgm_rgb_exchanged_view = _base_.two_view_geometry + [
    color_jitter,
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='ChannelExchange', gray=2, prob=1.0),
    dict(type='PackVIReIDInputs'),
]
pgm_ir_view = _base_.two_view_geometry + [
    color_jitter,
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='ChannelAdapGray', gray_prob=0.5),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadVIReIDImage'),
        dict(
            type='ModalityViews',
            views=dict(
                rgb=[_base_.rgb_view, pgm_rgb_exchanged_view],
                ir=[pgm_ir_view])),
    ]))

default_hooks = dict(
    checkpoint=dict(save_best='sysu/all/mAP', rule='greater'))
