"""mmpretrain's browse_dataset.py on our configs: it forces the mmpretrain
scope, and the dataset bases name theirs (``_scope_='mmvireid'``)."""
import glob
import os.path as osp

import mmpretrain
import pytest
from e2e_utils import run_tool, write_tiny_config

BROWSE = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                  'visualization', 'browse_dataset.py')


@pytest.mark.skipif(not osp.isfile(BROWSE),
                    reason="mmpretrain's package has no .mim/tools")
def test_browse_dataset_on_our_config(tiny_sysu, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_sysu)
    out = tmp_path / 'browse'
    # 'original' mode: its other modes call matplotlib's adjust_bbox with
    # the signature of matplotlib < 3.8 (mmpretrain 1.2)
    run_tool([BROWSE, config, '-o', str(out), '-n', '3', '-m', 'original',
              '--not-show', '-p', 'val'])
    assert len(glob.glob(str(out / '*.jpg'))) >= 1
