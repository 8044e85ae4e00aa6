"""A PGM stage-2 step end to end on a tiny synthetic tree: two views of
every RGB image, per-modality cluster counts, the alternating cross term."""
import pytest
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmvireid.structures import IR, RGB


class BatchSpy(Hook):
    """Record the first batch of every epoch as the model receives it and
    the losses of that step."""

    def __init__(self):
        self.batches = []
        self.losses = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if batch_idx == 0:
            self.batches.append(data_batch)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if batch_idx == 0:
            self.losses.append(dict(outputs))


@pytest.mark.e2e
def test_pgm_stage2_on_two_view_batches(unsup_cfg):
    cfg = unsup_cfg(max_epochs=2, association='pgm',
                    flip_fusion='mean_of_normalized')
    view = [
        dict(type='Resize', scale=(16, 32), keep_ratio=False),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    ]
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadVIReIDImage'),
        dict(
            type='ModalityViews',
            views=dict(
                rgb=[
                    view + [dict(type='PackVIReIDInputs')],
                    view + [
                        dict(type='ChannelExchange', gray=2),
                        dict(type='PackVIReIDInputs')
                    ]
                ],
                ir=[view + [dict(type='PackVIReIDInputs')]]))
    ]
    cfg.train_dataloader.update(
        batch_size=(1 + 2) * 4,
        collate_fn=dict(type='mmvireid.multi_view_collate'))
    cfg.train_dataloader.sampler.update(
        num_pids=dict(rgb=1, ir=2), camera_aware=True, cluster_draw='passes')
    # PGM's stage-2 head (assigned: ConfigDict.update would merge the
    # losses into the SPCL-ID ones)
    for key, value in dict(
            cluster_memory=dict(
                type='ClusterMemory', momentum=0.2, mode='hard'),
            loss_intra=dict(type='ClusterContrastLoss'),
            loss_cross=dict(type='ClusterContrastLoss', loss_weight=0.25),
            loss_instance=None,
            progressive=None,
            cross_direction='alternate',
            cross_memory_update=True).items():
        cfg.model.head[key] = value
    spy = BatchSpy()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(spy, priority='LOWEST')
    runner.train()
    for batch, losses in zip(spy.batches, spy.losses):
        samples = batch['data_samples']
        # 4 RGB items in two views, then 8 IR items: 16 images
        assert len(batch['inputs']) == len(samples) == 4 * 2 + 8
        modalities = [s.modality for s in samples]
        assert modalities == [RGB] * 4 + [IR] * 8 + [RGB] * 4
        assert [s.sample_idx for s in samples[:4]] == [
            s.sample_idx for s in samples[-4:]
        ]
        assert set(losses) == {'loss', 'loss_intra', 'loss_cross'}
    memory = runner.model.head.memory
    assert memory.ir_to_rgb.numel() == memory.num_clusters(IR)
