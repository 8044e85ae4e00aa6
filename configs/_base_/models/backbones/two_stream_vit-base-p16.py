# A two-stream ViT-B/16 for VI-ReID at 288x144, to put in a method config:
#     _base_ = ['./agw_r50_sysu.py',
#               '../_base_/models/backbones/two_stream_vit-base-p16.py']
#     model = dict(backbone=_base_.two_stream_backbone, neck=None,
#                  head=dict(in_channels=None))  # inferred: 768
#     data_preprocessor = _base_.vit_data_preprocessor
# The patch embedding exists per modality; the class token, position
# embedding and the 12 blocks are shared (TwoStreamBackbone,
# num_specific_stages=0). The retrieval feature is the class token after the
# final LayerNorm (no pooling neck). 16x16 patches at 288x144 give an 18x9
# grid, whose position embedding is interpolated (bicubic) from the
# checkpoint's 24x24 when it is loaded. Weights: mmpretrain's ViT-B/16,
# ImageNet-21k pre-trained, ImageNet-1k fine-tuned at 384, normalised with
# mean = std = 127.5 (hence `vit_data_preprocessor`).
two_stream_backbone = dict(
    _delete_=True,
    type='TwoStreamBackbone',
    num_specific_stages=0,
    backbone=dict(
        type='VisionTransformer',
        arch='b',
        img_size=(288, 144),
        patch_size=16,
        drop_path_rate=0.1,
        out_type='cls_token',
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone',
            checkpoint='https://download.openmmlab.com/mmclassification/'
            'v0/vit/finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_'
            'in1k-384_20210928-98e8652b.pth')))

vit_data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
