# SPCL-ID on SYSU-MM01 (docs/en/recipes.md §5, §6) with a two-stream
# ConvNeXt-T (configs/_base_/models/backbones/two_stream_convnext-tiny.py).
# Schedule and clustering: those of the ResNet-50 config, not tuned for
# it. Not trained by this project.
_base_ = [
    './spcl_id_r50_sysu.py',
    '../_base_/models/backbones/two_stream_convnext-tiny.py'
]

model = dict(
    backbone=_base_.two_stream_backbone,
    neck=None,
    # inferred from the backbone: 768
    head=dict(in_channels=None))
