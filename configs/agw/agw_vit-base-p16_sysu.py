# AGW on SYSU-MM01 (docs/en/recipes.md §4) with the backbone swapped for a
# two-stream ViT-B/16: see
# configs/_base_/models/backbones/two_stream_vit-base-p16.py. Schedule: AGW's,
# not tuned for it (TransReID trains ViT-B/16 with SGD, lr 0.008, cosine
# decay). Not trained by this project.
_base_ = [
    './agw_r50_sysu.py',
    '../_base_/models/backbones/two_stream_vit-base-p16.py'
]

model = dict(
    backbone=_base_.two_stream_backbone,
    neck=None,
    # inferred from the backbone: 768
    head=dict(in_channels=None))

data_preprocessor = _base_.vit_data_preprocessor
