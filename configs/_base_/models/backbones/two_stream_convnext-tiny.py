# A two-stream ConvNeXt-T for VI-ReID, to put in a method config:
#     _base_ = ['./agw_r50_sysu.py',
#               '../_base_/models/backbones/two_stream_convnext-tiny.py']
#     model = dict(backbone=_base_.two_stream_backbone, neck=None,
#                  head=dict(in_channels=None))  # inferred: 768
# The stem (4x4 patchify convolution + LayerNorm) exists per modality, the
# four stages are shared (TwoStreamBackbone, num_specific_stages=0). The
# retrieval feature is ConvNeXt's own global average pooling and final
# LayerNorm (no pooling neck: GeM would clamp the LayerNorm's negative
# outputs). At 288x144 the output stride 32 gives a 9x4 map. Weights:
# mmpretrain's ConvNeXt-T, ImageNet-21k pre-trained, ImageNet-1k fine-tuned
# at 224, with ImageNet's mean / std (the dataset bases' preprocessor).
two_stream_backbone = dict(
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
            '7501e534.pth')))
