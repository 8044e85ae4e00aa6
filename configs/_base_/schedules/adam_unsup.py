# Unsupervised schedule of ADCA / PGM (docs/en/recipes.md §5, from their
# code): Adam, lr 3.5e-4, weight decay 5e-4, x0.1 every 20 epochs, 50 epochs
# (one stage). The epoch length is fixed by the PseudoLabelSampler's
# iters_per_epoch (200 on SYSU-MM01, 100 on RegDB).
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=3.5e-4, weight_decay=5e-4))

param_scheduler = [
    dict(type='StepLR', by_epoch=True, step_size=20, gamma=0.1),
]

train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=10)
val_cfg = dict()
test_cfg = dict()
