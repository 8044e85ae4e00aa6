# AGW's schedule (docs/en/methods.md §4): SGD with a 10-epoch linear warm-up,
# x0.1 at epoch 20 and x0.01 at epoch 50; lr 0.1 for the BN-neck and the
# classifier, 0.01 for everything else (AGW / MCLNet code).
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(
        custom_keys={
            'head.bnneck': dict(lr_mult=10.0),
            'head.classifier': dict(lr_mult=10.0)
        }))

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
