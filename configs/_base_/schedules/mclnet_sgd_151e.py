# MCLNet's schedule (docs/en/methods.md §3, from the released code) is AGW's:
# SGD, momentum 0.9, Nesterov, weight decay 5e-4; lr 0.01 for the backbone and
# the projection heads, 10x (0.1) for the BN-neck and the classifier; linear
# warm-up over 10 epochs, x0.1 at epoch 20, x0.01 at epoch 50; 151 epochs.
_base_ = ['./agw_sgd_80e.py']

train_cfg = dict(max_epochs=151)
