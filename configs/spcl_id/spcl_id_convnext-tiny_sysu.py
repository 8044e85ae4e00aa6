# SPCL-ID on SYSU-MM01 (docs/en/methods.md §5, §6) with the two-stream
# ConvNeXt-T of configs/agw/agw_convnext-tiny_sysu.py: per-modality stem,
# shared stages, ConvNeXt's own average pooling and final LayerNorm as the
# feature, then the BN-neck and the memories. Schedule and clustering: those
# of the ResNet-50 config, not tuned for ConvNeXt. Not trained by this
# project.
_base_ = ['./spcl_id_r50_sysu.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='TwoStreamBackbone',
        num_specific_stages=0,
        backbone=dict(
            type='ConvNeXt',
            arch='tiny',
            drop_path_rate=0.1,
            init_cfg=dict(
                type='Pretrained',
                prefix='backbone',
                checkpoint='https://download.openmmlab.com/mmclassification/'
                'v0/convnext/convnext-tiny_in21k-pre_3rdparty_in1k_20221219-'
                '7501e534.pth'))),
    neck=None,
    # inferred from the backbone: 768
    head=dict(in_channels=None))
