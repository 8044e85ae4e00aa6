# PGM stage 2 on SYSU-MM01 (zesenwu23/USL-VI-ReID train_sysu.py
# main_worker_stage2 from L700, clustercontrast/trainers.py L59-104): stage
# 1's model trained 70 more epochs with a fresh Adam and schedule, and
# - progressive graph matching of the clusters after every clustering
#   (association='pgm', L816-847): every RGB cluster gets an IR partner when
#   there are at least as many RGB as IR clusters, none otherwise;
# - the cross-modality term, weight 0.25, in one direction per epoch: RGB
#   queries against the IR memory in even epochs, IR queries against the RGB
#   memory in odd ones (cross_direction='alternate'; ProgressiveScheduleHook
#   hands the epoch to the head), the cross call updating the memory it
#   contrasts with (cross_memory_update=True);
# - hard memory updates (use_hard=True, L792-795);
# - the IR view without ColorJitter (L878-886).
# Run pgm_r50_sysu_stage1.py first; this loads its last checkpoint (PGM
# loads the one with the best test mAP: set load_from to
# work_dirs/pgm_r50_sysu_stage1/best_sysu_all_mAP_epoch_<N>.pth for that).
_base_ = ['./pgm_r50_sysu_stage1.py']

model = dict(
    head=dict(
        cluster_memory=dict(mode='hard'),
        loss_cross=dict(
            _delete_=True, type='ClusterContrastLoss', loss_weight=0.25),
        cross_direction='alternate',
        cross_memory_update=True))

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadVIReIDImage'),
        dict(
            type='ModalityViews',
            views=dict(
                rgb=[_base_.rgb_view, _base_.pgm_rgb_exchanged_view],
                ir=[_base_.ir_view])),
    ]))

clustering_hook = dict(_base_.clustering_hook, association='pgm')
custom_hooks = [clustering_hook, dict(type='ProgressiveScheduleHook')]

train_cfg = dict(max_epochs=70)
load_from = 'work_dirs/pgm_r50_sysu_stage1/epoch_50.pth'
