# MCLNet sized for a 2-core CPU: ResNet-18 (stem + layer1 + layer2 per
# modality), 64x32 input, trained from scratch on the synthetic dataset in
# SYSU-MM01's layout
#   python tools/dataset_converters/make_synthetic_vireid.py \
#       --layout sysu --out data/synthetic_sysu
# Data, pipelines, schedule, optimizer and seed are those of the AGW
# quick start (inherited), so the two compare; only the model differs.
_base_ = '../agw/agw_r18_synthetic_sysu.py'

model = dict(
    backbone=dict(
        num_specific_stages=2, backbone=dict(out_indices=(0, 1, 2, 3))),
    neck=dict(
        _delete_=True,
        type='DeepSupervisionNeck',
        in_channels=(64, 128, 256, 512),
        out_channels=512,
        num_specific_projections=2,
        projection=dict(type='SeparableConvProjection'),
        pooling=dict(type='GeneralizedMeanPooling', p=3.0, p_trainable=False)),
    head=dict(
        _delete_=True,
        type='MCLNetHead',
        in_channels=512,
        num_classes=32,
        loss_id=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=None,
        loss_mmd=dict(
            type='ClassWiseMMDLoss',
            kernel_mul=2.0,
            kernel_num=5,
            loss_weight=0.25),
        loss_supcon=dict(
            type='SupConLoss',
            temperature=0.1,
            scale_by_temperature=True,
            loss_weight=5.0),
        loss_hks=dict(
            type='HierarchicalKnowledgeSynergyLoss',
            temperature=1.0,
            loss_weight=5.0)))
