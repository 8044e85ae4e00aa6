# MCLNet as its authors' code trains it (docs/en/recipes.md §3): two-stream
# ResNet-50 with modality-specific stem + layer1 + layer2 and shared
# layer3 + layer4, last stride 1 (share_net 3); separable-conv projections
# of layer1 / layer2 (per modality) and layer3 (shared) to 2048 channels,
# every block at stride 2 (9x5 maps at 288x144); average pooling of the
# four maps; BN-neck + ID loss on f4, class-wise MMD on f4, SupCon on
# f1..f4, HKS over (f1, ..., f4) with the released smoothing; the BN-neck
# feature of the image alone (no flip) at test.
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
        projection=dict(type='SeparableConvProjection', last_stride=2),
        # The released code runs average pooling: its `gm_pool: on` is read
        # by YAML as True, so `gm_pool == "on"` fails (model/network.py
        # L322). The GeM of the paper's figure:
        # dict(type='GeneralizedMeanPooling', p=3.0, p_trainable=False)
        pooling=dict(type='GlobalAveragePooling')),
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
            eps=1e-8,
            loss_weight=5.0),
        # 'concat' adds the pooled f4 to the BN-neck feature
        test_feature='bn',
        # BN-neck weight ~ N(1, 0.01^2) (model/network.py L81-82, L260)
        bnneck_init_std=0.01),
    flip_test=False)
