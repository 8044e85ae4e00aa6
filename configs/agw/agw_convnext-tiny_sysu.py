# AGW on SYSU-MM01 with a two-stream ConvNeXt-T (docs/en/methods.md §4, the
# backbone swapped): the stem (4x4 patchify convolution + LayerNorm) exists
# per modality, the four stages are shared (TwoStreamBackbone,
# num_specific_stages=0); the retrieval feature is ConvNeXt's own global
# average pooling and final LayerNorm (no pooling neck: GeM would clamp the
# LayerNorm's negative outputs), then AGW's BN-neck and losses. Input
# 288x144, output stride 32 (a 9x4 map). Weights: mmpretrain's ConvNeXt-T,
# ImageNet-21k pre-trained, ImageNet-1k fine-tuned at 224 (ImageNet mean /
# std, as the dataset base). Schedule: AGW's, not tuned for ConvNeXt. Not
# trained by this project.
_base_ = ['./agw_r50_sysu.py']

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
