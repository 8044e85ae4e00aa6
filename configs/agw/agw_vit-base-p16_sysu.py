# AGW on SYSU-MM01 with a two-stream ViT-B/16 (docs/en/methods.md §4, the
# backbone swapped): the patch embedding exists per modality, the class
# token, position embedding and the 12 blocks are shared (TwoStreamBackbone,
# num_specific_stages=0); the retrieval feature is the class token after the
# final LayerNorm (no pooling neck), then AGW's BN-neck and losses. Input
# 288x144 with 16x16 patches: an 18x9 grid, whose position embedding is
# interpolated (bicubic) from the checkpoint's 24x24 when it is loaded.
# Weights: mmpretrain's ViT-B/16, ImageNet-21k pre-trained, ImageNet-1k
# fine-tuned at 384, normalised with mean = std = 127.5 (hence the data
# preprocessor below). Schedule: AGW's, not tuned for ViT (TransReID trains
# ViT-B/16 with SGD, lr 0.008, cosine decay). Not trained by this project.
_base_ = ['./agw_r50_sysu.py']

model = dict(
    backbone=dict(
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
                'in1k-384_20210928-98e8652b.pth'))),
    neck=None,
    # inferred from the backbone: 768
    head=dict(in_channels=None))

data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
