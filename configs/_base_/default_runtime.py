# defaults to use registries in mmvireid
default_scope = 'mmvireid'

# configure default hooks
default_hooks = dict(
    # record the time of every iteration.
    timer=dict(type='IterTimerHook'),
    # print log every 50 iterations.
    logger=dict(type='LoggerHook', interval=50),
    # enable the parameter scheduler.
    param_scheduler=dict(type='ParamSchedulerHook'),
    # save a checkpoint per epoch, keep the last three; written atomically,
    # the old one removed once the new one is complete.
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3),
    # set the sampler's seed (and epoch) in distributed runs.
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # reseed the main process and the loader workers from (seed, epoch, rank,
    # worker): a resumed run draws what the uninterrupted one drew.
    epoch_seed=dict(type='EpochSeedHook'),
    # under DDP every rank validates (and clusters with) rank 0's buffers,
    # i.e. the saved checkpoint's.
    broadcast_buffers=dict(type='BroadcastBuffersHook'),
    # batch size vs sampler, num_classes vs identities, before the first step.
    check_train_config=dict(type='CheckTrainConfigHook'),
    # ranked lists of a few queries after every validation, to the
    # visualizer's backends (vis_data/vis_image; TensorBoard with
    # tools/train.py --tensorboard); set enable=True to draw them.
    visualization=dict(type='VIReIDVisualizationHook', enable=False),
)

# configure environment
env_cfg = dict(
    # whether to enable cudnn benchmark
    cudnn_benchmark=False,
    # set multi process parameters
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # set distributed parameters; a collective that waits longer than
    # timeout seconds (a frozen rank) fails the job.
    dist_cfg=dict(backend='nccl', timeout=1800),
)

# set visualizer
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='VIReIDVisualizer', vis_backends=vis_backends)

# set log level
log_level = 'INFO'

# load from which checkpoint
load_from = None

# whether to resume training from the loaded checkpoint
resume = False

# Defaults to use random seed and disable `deterministic`
randomness = dict(seed=0, deterministic=False)
