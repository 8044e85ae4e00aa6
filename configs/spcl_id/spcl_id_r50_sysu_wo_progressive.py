# Ablation: no progressive schedule: the losses are simply added,
# L = L_ins + L_sp + lambda_cm L_cross, at every epoch.
_base_ = ['./spcl_id_r50_sysu.py']

model = dict(head=dict(progressive=None))

# no schedule, no ProgressiveScheduleHook
custom_hooks = [
    hook for hook in _base_.custom_hooks
    if hook.type != 'ProgressiveScheduleHook'
]
