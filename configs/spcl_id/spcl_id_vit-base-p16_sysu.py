# SPCL-ID on SYSU-MM01 (docs/en/methods.md §5, §6) with the two-stream
# ViT-B/16 of configs/agw/agw_vit-base-p16_sysu.py: per-modality patch
# embedding, shared class token, position embedding (18x9 grid at 288x144,
# interpolated from the checkpoint's 24x24) and blocks; the class token is
# the feature, then the BN-neck and the memories. Weights normalised with
# mean = std = 127.5. Schedule and clustering: those of the ResNet-50
# config, not tuned for ViT. Not trained by this project.
_base_ = ['./spcl_id_r50_sysu.py']

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
