"""demo/vireid_demo.py: a query folder against a gallery folder."""
import csv
import os.path as osp

import mmcv
import pytest
import torch
from e2e_utils import REPO, run_tool, write_tiny_config
from mmengine.utils import scandir

from mmvireid.apis import inference_model, init_model

pytestmark = pytest.mark.e2e


def test_demo_writes_ranked_lists(tiny_sysu, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_sysu)
    torch.manual_seed(0)
    model = init_model(config)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    query_dir, gallery_dir = osp.join(tiny_sysu, 'cam3'), osp.join(
        tiny_sysu, 'cam1')
    out_dir = tmp_path / 'out'
    proc = run_tool([
        'demo/vireid_demo.py', query_dir, gallery_dir, config, checkpoint,
        '--query-modality', 'thermal', '--topk', '3', '--max-rows', '2',
        '--img-size', '64', '32', '--out-dir',
        str(out_dir)
    ])
    assert 'ir queries' in proc.stdout and 'rgb gallery' in proc.stdout
    with open(out_dir / 'ranked_lists.csv') as f:
        rows = list(csv.DictReader(f))
    queries = sorted({r['query'] for r in rows})
    gallery = sorted(
        p for p in scandir(gallery_dir, suffix='.jpg', recursive=True))
    assert len(rows) == 3 * len(queries) and len(gallery) > 3
    # as the API ranks: IR queries against the RGB gallery, 1 - cos
    q_feats = inference_model(model,
                              [osp.join(query_dir, q) for q in queries], 'ir')
    g_feats = inference_model(
        model, [osp.join(gallery_dir, g) for g in gallery], 'rgb')
    distances = 1 - q_feats @ g_feats.T
    for q, query in enumerate(queries):
        mine = [r for r in rows if r['query'] == query]
        assert [int(r['rank']) for r in mine] == [1, 2, 3]
        order = torch.argsort(distances[q])[:3].tolist()
        assert [r['gallery'] for r in mine] == [gallery[g] for g in order]
        assert [float(r['distance']) for r in mine] == pytest.approx(
            distances[q][order].tolist(), abs=1e-5)
    picture = mmcv.imread(str(out_dir / 'ranked_lists.png'))
    assert 2 * 64 < picture.shape[0] < 2 * 2 * 64
    assert osp.isfile(osp.join(REPO, 'demo', 'vireid_demo.py'))


def test_demo_refuses_bad_input(tiny_sysu, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_sysu)
    with pytest.raises(AssertionError, match='--query-modality must be'):
        run_tool(['demo/vireid_demo.py', tiny_sysu, tiny_sysu, config,
                  'x.pth', '--query-modality', 'depth'])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(AssertionError, match='holds no image'):
        run_tool(['demo/vireid_demo.py', str(tmp_path / 'empty'), tiny_sysu,
                  config, 'x.pth'])
