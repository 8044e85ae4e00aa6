# Ablation: no soft prototypes. With alpha = 1 the soft prototype loss is
# exactly cluster contrast with the centroid alone (within and across
# modalities); instance discrimination and the schedule stay.
_base_ = ['./spcl_id_r50_sysu.py']

model = dict(
    head=dict(loss_intra=dict(alpha=1.0), loss_cross=dict(alpha=1.0)))
