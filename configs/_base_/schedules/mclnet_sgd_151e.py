# MCLNet's schedule (methods.md section 3, from the released code): SGD,
# momentum 0.9, Nesterov, weight decay 5e-4; lr 0.01 for the backbone and the
# projection heads, 10x (0.1) for the BN-neck and the classifier; linear
# warm-up over 10 epochs, x0.1 at epoch 20, x0.01 at epoch 50; 151 epochs.
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

train_cfg = dict(by_epoch=True, max_epochs=151, val_interval=10)
val_cfg = dict()
test_cfg = dict()
