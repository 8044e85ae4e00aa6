# PGM stage 2 on RegDB (zesenwu23/USL-VI-ReID train_regdb.py
# main_worker_stage2 from L559): as pgm_r50_sysu_stage2.py, 30 epochs, with
# two differences of the RegDB code: the association also runs when there
# are fewer RGB than IR clusters, IR matched to RGB
# (dict(type='pgm', symmetric=True), L716-739), and the memories keep the
# mean update (the released run passes no --use-hard; the log in
# training_logs_example/RegDB shows use_hard=False; PGM's README recommends
# cluster_memory.mode='hard' for stage 2).
_base_ = ['./pgm_r50_regdb_stage1.py']

model = dict(
    head=dict(
        loss_cross=dict(
            _delete_=True, type='ClusterContrastLoss', loss_weight=0.25),
        cross_direction='alternate',
        cross_memory_update=True))

clustering_hook = dict(
    _base_.clustering_hook, association=dict(type='pgm', symmetric=True))
custom_hooks = [clustering_hook, dict(type='ProgressiveScheduleHook')]

load_from = 'work_dirs/pgm_r50_regdb_stage1/epoch_30.pth'
