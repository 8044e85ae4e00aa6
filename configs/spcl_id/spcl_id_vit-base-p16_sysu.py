# SPCL-ID on SYSU-MM01 (docs/en/recipes.md §5, §6) with a two-stream
# ViT-B/16 (configs/_base_/models/backbones/two_stream_vit-base-p16.py).
# Schedule and clustering: those of the ResNet-50 config, not tuned for
# it. Not trained by this project.
_base_ = [
    './spcl_id_r50_sysu.py',
    '../_base_/models/backbones/two_stream_vit-base-p16.py'
]

model = dict(
    backbone=_base_.two_stream_backbone,
    neck=None,
    # inferred from the backbone: 768
    head=dict(in_channels=None))

data_preprocessor = _base_.vit_data_preprocessor
