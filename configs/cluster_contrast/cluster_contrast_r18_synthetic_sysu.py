# The cluster-contrast baseline on the synthetic data, with exactly the data,
# model size and schedule of the SPCL-ID quick start
# (configs/spcl_id/spcl_id_r18_synthetic_sysu.py), for the ablation table of
# configs/spcl_id/README.md.
_base_ = ['../spcl_id/spcl_id_r18_synthetic_sysu.py']

model = dict(
    head=dict(
        loss_intra=dict(_delete_=True, type='ClusterContrastLoss'),
        loss_cross=dict(
            _delete_=True, type='ClusterContrastLoss', loss_weight=0.5),
        loss_instance=None,
        progressive=None))

# no ProgressiveScheduleHook: the baseline has no schedule
custom_hooks = [{{_base_.clustering_hook}}]
