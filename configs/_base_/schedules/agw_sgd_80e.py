# AGW's schedule (methods.md section 4): SGD lr 0.1 with a 10-epoch linear
# warm-up, x0.1 at epoch 20 and x0.01 at epoch 50.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[20, 50], gamma=0.1),
]

train_cfg = dict(by_epoch=True, max_epochs=80, val_interval=10)
val_cfg = dict()
test_cfg = dict()
