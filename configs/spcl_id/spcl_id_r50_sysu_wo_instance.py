# Ablation: no instance discrimination (and hence no progressive schedule,
# which moves the weight from it to the prototype losses): L = L_sp +
# lambda_cm L_cross from the first epoch. No instance memory is needed by the
# loss, but the soft prototypes still come from it.
_base_ = ['./spcl_id_r50_sysu.py']

model = dict(head=dict(loss_instance=None, progressive=None))

# no schedule, no ProgressiveScheduleHook
custom_hooks = [
    hook for hook in _base_.custom_hooks
    if hook.type != 'ProgressiveScheduleHook'
]
