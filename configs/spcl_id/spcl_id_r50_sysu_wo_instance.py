# Ablation: no instance discrimination (and hence no progressive schedule,
# which moves the weight from it to the prototype losses): L = L_sp +
# lambda_cm L_cross from the first epoch. No instance memory is needed by the
# loss, but the soft prototypes still come from it.
_base_ = ['./spcl_id_r50_sysu.py']

model = dict(head=dict(loss_instance=None, progressive=None))

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
