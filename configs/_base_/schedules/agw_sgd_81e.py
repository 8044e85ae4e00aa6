# AGW's schedule (docs/en/recipes.md §4; AGW train.py L205-233, L362, L384):
# SGD, momentum 0.9, Nesterov, weight decay 5e-4 on every parameter; lr 0.1
# for the BN-neck and the classifier, 0.01 for everything else; a linear
# warm-up stepped once per epoch, lr x (e + 1) / 10 in epoch e = 0..9
# (LinearLR from 0.1, by epoch, reaching 1 in epoch 9), x0.1 from epoch 20,
# x0.01 from epoch 50; 81 epochs (range(0, 81)); validation every 2 epochs.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(
        custom_keys={
            'head.bnneck': dict(lr_mult=10.0),
            'head.classifier': dict(lr_mult=10.0)
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=10),
    dict(type='MultiStepLR', by_epoch=True, milestones=[20, 50], gamma=0.1),
]

train_cfg = dict(by_epoch=True, max_epochs=81, val_interval=2)
val_cfg = dict()
test_cfg = dict()
