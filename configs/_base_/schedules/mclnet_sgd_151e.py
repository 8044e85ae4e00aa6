# MCLNet's schedule (docs/en/recipes.md §3; MCLNet optimizer.py L4-42,
# config/baseline.yaml L22-23, L38-40) is AGW's: SGD, momentum 0.9, Nesterov,
# weight decay 5e-4; lr 0.01 for the backbone and the projection heads, 10x
# (0.1) for the BN-neck and the classifier; warm-up stepped once per epoch
# over epochs 0-9, x0.1 at epoch 20, x0.01 at epoch 50; 151 epochs;
# validation every 2 epochs.
_base_ = ['./agw_sgd_81e.py']

train_cfg = dict(max_epochs=151)
