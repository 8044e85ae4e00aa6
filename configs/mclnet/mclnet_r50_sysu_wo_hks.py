# Ablation: MCLNet on SYSU-MM01 without the HKS loss;
# everything else as mclnet_r50_sysu.py.
_base_ = './mclnet_r50_sysu.py'

model = dict(head=dict(loss_hks=None))
