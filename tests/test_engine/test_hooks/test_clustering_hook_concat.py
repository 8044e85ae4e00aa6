"""ClusteringHook on a VIReIDConcatDataset: every dataset is clustered on
its own and no pseudo-label spans two datasets."""
import numpy as np
import pytest
from mmengine.runner import Runner

from mmvireid.clustering import cross_modal_pseudo_labels
from mmvireid.structures import IR, RGB
from mmvireid.testing import make_synthetic_vireid


@pytest.mark.e2e
def test_each_dataset_clustered_alone(unsup_cfg, unsup_tree, tmp_path,
                                      monkeypatch):
    other = make_synthetic_vireid(str(tmp_path / 'other'), 'sysu', seed=1,
                                  num_train_ids=5, num_test_ids=2,
                                  num_imgs_per_cam=2, img_size=(32, 16))
    calls = []

    def recording(features, modalities, **kwargs):
        result = cross_modal_pseudo_labels(features, modalities, **kwargs)
        calls.append((len(features), np.asarray(modalities), result))
        return result

    monkeypatch.setattr(
        'mmvireid.engine.hooks.clustering_hook.cross_modal_pseudo_labels',
        recording)
    cfg = unsup_cfg(max_epochs=1)
    part = cfg.train_dataloader.dataset
    cfg.train_dataloader.dataset = dict(
        type='VIReIDConcatDataset',
        datasets=[part, dict(part, data_root=other)])
    runner = Runner.from_cfg(cfg)
    runner.train()
    dataset = runner.train_dataloader.dataset
    memory = runner.model.head.memory
    labels = memory.pseudo_labels.numpy()
    np.testing.assert_array_equal(dataset.pseudo_labels, labels)
    (start, middle), (_, end) = dataset.part_ranges
    assert [n for n, _, _ in calls] == [middle - start, end - middle]
    first, second = calls[0][2], calls[1][2]
    np.testing.assert_array_equal(labels[:middle], first.pseudo_labels)
    for modality in (RGB, IR):
        in_first = first.pseudo_labels[calls[0][1] == modality]
        in_second = second.pseudo_labels[calls[1][1] == modality]
        offset = in_first.max(initial=-1) + 1
        joined = labels[middle:][calls[1][1] == modality]
        np.testing.assert_array_equal(
            joined, np.where(in_second >= 0, in_second + offset, -1))
        # no cluster has members in both datasets
        assert not set(in_first[in_first >= 0]) & set(
            joined[joined >= 0].tolist())
    assert len(memory.rgb_to_ir) == memory.num_clusters(RGB)
    assert memory.num_clusters(RGB) == \
        first.stats['num_clusters_rgb'] + second.stats['num_clusters_rgb']
