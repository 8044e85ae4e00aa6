# The training views of ADCA / PGM at 288x144 (docs/en/recipes.md §5): two
# views of every RGB image, the image and its channel-exchanged copy, and
# one view of every IR image, each its own sample of the batch
# (ModalityViews + multi_view_collate). ADCA: yangbincv/ADCA
# adca_sysu_train.py L407-440; PGM: zesenwu23/USL-VI-ReID train_sysu.py
# L403-439 (whose RGB copy adds ColorJitter: configs/pgm). Their transforms
# run after ToTensor / Normalize, ours on the pixels before the data
# preprocessor normalises (docs/en/recipes.md §5 lists what differs).
# torchvision's Resize((h, w), interpolation=3) of their loaders: bicubic
two_view_resize = dict(
    type='Resize', scale=(144, 288), keep_ratio=False,
    interpolation='bicubic')
# T.Pad(10) + T.RandomCrop + T.RandomHorizontalFlip
two_view_geometry = [
    two_view_resize,
    dict(type='RandomCrop', crop_size=(288, 144), padding=10),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
rgb_view = two_view_geometry + [
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='PackVIReIDInputs'),
]
rgb_exchanged_view = two_view_geometry + [
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='ChannelExchange', gray=2, prob=1.0),
    dict(type='PackVIReIDInputs'),
]
ir_view = two_view_geometry + [
    dict(type='ChannelRandomErasing', erase_prob=0.5),
    dict(type='ChannelAdapGray', gray_prob=0.5),
    dict(type='PackVIReIDInputs'),
]
two_view_train_pipeline = [
    dict(type='LoadVIReIDImage'),
    dict(
        type='ModalityViews',
        views=dict(rgb=[rgb_view, rgb_exchanged_view], ir=[ir_view])),
]
# what ADCA / PGM extract for clustering (get_test_loader): the bicubic
# resize only
cluster_pipeline = [
    dict(type='LoadVIReIDImage'),
    two_view_resize,
    dict(type='PackVIReIDInputs'),
]
