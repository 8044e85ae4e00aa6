# Ablation: no progressive schedule: the losses are simply added,
# L = L_ins + L_sp + lambda_cm L_cross, at every epoch.
_base_ = ['./spcl_id_r50_sysu.py']

model = dict(head=dict(progressive=None))

custom_hooks = [
    dict(
        type='ClusteringHook',
        pipeline={{_base_.test_pipeline}},
        k1=30,
        k2=6,
        eps=0.6,
        min_samples=4,
        dataloader=dict(batch_size=128, num_workers=4)),
]
