# MCLNet (docs/en/methods.md §3): two-stream ResNet-50 with modality-specific
# stem + layer1 + layer2 and shared layer3 + layer4, last stride 1;
# separable-conv projections of layer1/layer2 (per modality) and layer3
# (shared) to 2048 channels for deep supervision; GeM on the four maps;
# BN-neck + ID loss on f4, class-wise MMD on f4, SupCon on f1..f4, HKS over
# (f1, ..., f4).
model = dict(
    type='VIReID',
    backbone=dict(
        type='TwoStreamResNet',
        num_specific_stages=2,
        backbone=dict(
            type='ResNet',
            depth=50,
            strides=(1, 2, 2, 1),
            out_indices=(0, 1, 2, 3),
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet50'))),
    neck=dict(
        type='DeepSupervisionNeck',
        in_channels=(256, 512, 1024, 2048),
        out_channels=2048,
        num_specific_projections=2,
        projection=dict(type='SeparableConvProjection'),
        # The released code means GeM but silently average-pools; use
        # dict(type='GlobalAveragePooling') to reproduce that.
        pooling=dict(type='GeneralizedMeanPooling', p=3.0, p_trainable=False)),
    head=dict(
        type='MCLNetHead',
        in_channels=2048,
        num_classes=395,
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
            loss_weight=5.0),
        # 'concat' adds the pooled f4 to the BN-neck feature
        test_feature='bn'),
    flip_test=True)
