# AGW on SYSU-MM01 (docs/en/recipes.md §4) with the backbone swapped for a
# two-stream ConvNeXt-T: see
# configs/_base_/models/backbones/two_stream_convnext-tiny.py. Schedule: AGW's,
# not tuned for it. Not trained by this project.
_base_ = [
    './agw_r50_sysu.py',
    '../_base_/models/backbones/two_stream_convnext-tiny.py'
]

model = dict(
    backbone=_base_.two_stream_backbone,
    neck=None,
    # inferred from the backbone: 768
    head=dict(in_channels=None))
