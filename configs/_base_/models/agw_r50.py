# The AGW two-stream network (docs/en/recipes.md §4) without its non-local
# blocks: ResNet-50 with a modality-specific stem, last stride 1, GeM,
# BN-neck, ID + weighted regularisation triplet loss. The AGW configs
# (configs/agw) add the five non-local blocks and the rest of the released
# recipe; the unsupervised model bases build on this one.
model = dict(
    type='VIReID',
    backbone=dict(
        type='TwoStreamResNet',
        num_specific_stages=0,
        backbone=dict(
            type='ResNet',
            depth=50,
            strides=(1, 2, 2, 1),
            out_indices=(3, ),
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet50'))),
    neck=dict(type='GeneralizedMeanPooling', p=3.0, p_trainable=False),
    head=dict(
        type='BNNeckHead',
        in_channels=2048,
        num_classes=395,
        loss_id=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=dict(
            type='TripletLoss', mining='weighted', loss_weight=1.0)),
    flip_test=True)
