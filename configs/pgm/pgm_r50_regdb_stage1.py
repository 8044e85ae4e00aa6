# PGM stage 1 on RegDB, one trial per model (zesenwu23/USL-VI-ReID
# train_regdb.py main_worker_stage1 from L333, run_train_regdb.sh,
# training_logs_example/RegDB): as pgm_r50_sysu_stage1.py with RegDB's eps
# 0.3, 100 iterations an epoch, no ColorJitter in the IR view (L481-489),
# Adam x0.1 every 10 epochs, 30 epochs. Another trial:
#   --cfg-options train_dataloader.dataset.trial=3 \
#       val_dataloader.dataset.trial=3 test_dataloader.dataset.trial=3
_base_ = [
    '../_base_/models/cluster_contrast_r50.py',
    '../_base_/datasets/regdb_unsup_two_view.py',
    '../_base_/schedules/adam_unsup.py', '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        cluster_memory=dict(momentum=0.2, mode='mean'), loss_cross=None))

pgm_rgb_exchanged_view = _base_.two_view_geometry + [
    dict(
        type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5,
        hue=0.5),
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='ChannelExchange', gray=2, prob=1.0),
    dict(type='PackVIReIDInputs'),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadVIReIDImage'),
        dict(
            type='ModalityViews',
            views=dict(
                rgb=[_base_.rgb_view, pgm_rgb_exchanged_view],
                ir=[_base_.ir_view])),
    ]))

param_scheduler = [
    dict(type='StepLR', by_epoch=True, step_size=10, gamma=0.1),
]
train_cfg = dict(max_epochs=30)

default_hooks = dict(
    checkpoint=dict(save_best='regdb/visible2thermal/mAP', rule='greater'))
