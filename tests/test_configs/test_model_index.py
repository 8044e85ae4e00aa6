"""model-index.yml and the metafiles it imports, as mim reads them."""
import os.path as osp

import yaml
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_yaml(path):
    with open(osp.join(REPO, path)) as f:
        return yaml.safe_load(f)


def test_every_listed_model_has_a_config_that_loads():
    index = load_yaml('model-index.yml')
    assert 'configs/agw/metafile.yml' in index['Import']
    names = []
    for metafile in index['Import']:
        meta = load_yaml(metafile)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert model['In Collection'] in collections, model['Name']
            config = model['Config']
            assert osp.isfile(osp.join(REPO, config)), config
            # mim looks models up by name: the config's file name
            assert model['Name'] == osp.splitext(osp.basename(config))[0]
            cfg = Config.fromfile(osp.join(REPO, config))
            batch = cfg.train_dataloader.batch_size
            assert model['Metadata']['Batch Size'] == batch, config
            assert model['Metadata']['Epochs'] == cfg.train_cfg.max_epochs
            names.append(model['Name'])
    assert len(names) == len(set(names))
