# Ablation: MCLNet on SYSU-MM01 without the SupCon losses (loss_supcon_s1..s4);
# everything else as mclnet_r50_sysu.py.
_base_ = './mclnet_r50_sysu.py'

model = dict(head=dict(loss_supcon=None))
