# Ablation: soft prototypes without soft weighting (uniform weights 1/n).
_base_ = ['./spcl_id_r50_sysu.py']

model = dict(
    head=dict(
        loss_intra=dict(soft_weighting=False),
        loss_cross=dict(soft_weighting=False)))
