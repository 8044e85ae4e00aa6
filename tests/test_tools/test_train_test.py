"""End-to-end runs of tools/train.py and tools/test.py on CPU."""
import glob
import json
import os
import os.path as osp
import runpy
import shutil

import numpy as np
import pytest
import torch
from e2e_utils import REPO, run_tool, write_tiny_config
from mmengine.config import Config
from mmengine.runner import Runner

pytestmark = pytest.mark.e2e

HERE = osp.dirname(osp.abspath(__file__))


@pytest.fixture(scope='module')
def trained(tiny_sysu, tmp_path_factory):
    """A 2-epoch run of tools/train.py (one process)."""
    work = tmp_path_factory.mktemp('train2')
    cfg = write_tiny_config(work / 'tiny.py', tiny_sysu)
    run_tool(['tools/train.py', cfg, '--work-dir', str(work / 'run')])
    return cfg, work / 'run'


def test_train_writes_checkpoints_and_refuses_to_overwrite(trained):
    cfg, run = trained
    assert osp.isfile(run / 'epoch_1.pth') and osp.isfile(run / 'epoch_2.pth')
    with pytest.raises(AssertionError, match='already holds checkpoint files'):
        run_tool(['tools/train.py', cfg, '--work-dir', str(run)])
    # nothing was lost
    assert osp.isfile(run / 'epoch_2.pth')


def test_new_run_refuses_any_checkpoint_file(trained, tmp_path,
                                             monkeypatch):
    """In this process: tools/train.py's arguments and its work-dir check,
    which its main runs before it builds anything."""
    cfg, run = trained
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copy(run / 'epoch_1.pth', work / 'epoch_1.pth')  # no pointer
    train = runpy.run_path(osp.join(REPO, 'tools', 'train.py'))
    monkeypatch.setenv('LOCAL_RANK', '0')  # parse_args sets it
    monkeypatch.setattr('sys.argv',
                        ['tools/train.py', cfg, '--work-dir', str(work)])
    merged = train['merge_args'](Config.fromfile(cfg), train['parse_args']())
    with pytest.raises(FileExistsError) as info:
        train['check_work_dir'](merged)
    assert ('already holds checkpoint files of an earlier run (epoch_1.pth);'
            ' a new run would overwrite them. Pass --resume') in str(
                info.value)
    assert os.listdir(work) == ['epoch_1.pth']


def test_resume_with_nothing_to_resume_says_so(trained, tmp_path):
    cfg, _ = trained
    proc = run_tool([
        'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'new'), '--resume', '--cfg-options',
        'train_cfg.max_epochs=1'
    ])
    log = proc.stdout + proc.stderr
    assert (f"--resume: {str(tmp_path / 'new')!r} holds no complete "
            'checkpoint to resume from; starting a new run.') in log
    assert 'Auto resumed' not in log
    assert osp.isfile(tmp_path / 'new' / 'epoch_1.pth')


def test_resume_falls_back_to_the_newest_complete_checkpoint(
        trained, tmp_path):
    cfg, run = trained
    work = tmp_path / 'work'
    work.mkdir()
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        shutil.copy(run / name, work / name)
    data = (work / 'epoch_2.pth').read_bytes()
    (work / 'epoch_2.pth').write_bytes(data[:len(data) // 2])  # a crash
    (work / 'last_checkpoint').write_text('')
    proc = run_tool(
        ['tools/train.py', cfg, '--work-dir',
         str(work), '--resume'])
    log = proc.stdout + proc.stderr
    assert 'last_checkpoint is empty; looking for the newest complete' in log
    assert f'Skipping {work / "epoch_2.pth"}: empty or truncated' in log
    assert 'resumed epoch: 1, iter: 2' in log
    resumed = torch.load(work / 'epoch_2.pth', map_location='cpu')
    assert resumed['meta']['epoch'] == 2
    expected = torch.load(run / 'epoch_2.pth', map_location='cpu')
    for key, value in expected['state_dict'].items():
        assert torch.equal(resumed['state_dict'][key], value), key


def test_resume_continues_with_the_same_state(trained, tmp_path):
    cfg_path, run = trained
    ckpt = torch.load(run / 'epoch_2.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 4

    # the runner restores epoch, optimizer and scheduler state exactly
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = str(tmp_path / 'inspect')
    cfg.resume = True
    cfg.load_from = str(run / 'epoch_2.pth')
    cfg.train_cfg.max_epochs = 3
    runner = Runner.from_cfg(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    runner.param_schedulers = runner.build_param_scheduler(
        runner.param_schedulers)
    runner.load_or_resume()
    assert runner.epoch == 2 and runner.iter == 4
    state = runner.optim_wrapper.state_dict()
    assert state['param_groups'] == ckpt['optimizer']['param_groups']
    for key, value in ckpt['optimizer']['state'].items():
        torch.testing.assert_close(state['state'][key]['momentum_buffer'],
                                   value['momentum_buffer'])
    assert [s.state_dict() for s in runner.param_schedulers] == \
        ckpt['param_schedulers']

    # tools/train.py --resume trains epoch 3 only
    proc = run_tool([
        'tools/train.py', cfg_path, '--work-dir',
        str(run), '--resume', '--cfg-options', 'train_cfg.max_epochs=3'
    ])
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 2, iter: 4' in log
    assert 'Epoch(train) [3][2/2]' in log
    assert 'Epoch(train) [1]' not in log
    last = torch.load(run / 'epoch_3.pth', map_location='cpu')
    assert last['meta']['epoch'] == 3 and last['meta']['iter'] == 6
    # the schedule goes on where it stopped: x0.1 since epoch 1, no new
    # warm-up
    initial = ckpt['optimizer']['param_groups'][0]['initial_lr']
    assert ckpt['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        initial * 0.1)
    assert last['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        initial * 0.1)


def test_two_processes_match_one(trained, tmp_path):
    cfg, run = trained
    # training in two gloo processes runs and checkpoints
    run_tool(['tools/train.py', cfg, '--work-dir',
              str(tmp_path / 'ddp')], nproc=2)
    assert osp.isfile(tmp_path / 'ddp' / 'epoch_2.pth')
    # evaluation of one checkpoint: 2 processes == 1 process
    ckpt = str(run / 'epoch_2.pth')
    run_tool([
        'tools/test.py', cfg, ckpt, '--work-dir',
        str(tmp_path / 't1'), '--out',
        str(tmp_path / 'one.json')
    ])
    run_tool([
        'tools/test.py', cfg, ckpt, '--work-dir',
        str(tmp_path / 't2'), '--out',
        str(tmp_path / 'two.json')
    ],
             nproc=2)
    with open(tmp_path / 'one.json') as f:
        one = json.load(f)
    with open(tmp_path / 'two.json') as f:
        two = json.load(f)
    assert set(one) == set(two) == {'metrics', 'queries'}
    assert set(one['metrics']) == set(two['metrics'])
    assert 'sysu/all/mAP' in one['metrics']
    for key in one['metrics']:
        assert two['metrics'][key] == pytest.approx(one['metrics'][key],
                                                    abs=1e-3), key
    # per-query results: the same queries in the same order, and their
    # means over the valid queries and the trials are the metrics
    queries = one['queries']
    assert [(q['setting'], q['trial'], q['img_path']) for q in queries] == \
        [(q['setting'], q['trial'], q['img_path']) for q in two['queries']]
    for q1, q2 in zip(queries, two['queries']):
        assert q1['valid'] == q2['valid']
        assert q2['ap'] == pytest.approx(q1['ap'], abs=1e-5)
    assert {q['metric'] for q in queries} == {'sysu'}
    for setting in ('all', 'indoor'):
        per_trial = [[q for q in queries
                      if (q['setting'], q['trial']) == (setting, t)]
                     for t in range(10)]
        assert all(per_trial)
        for key, score in (('ap', 'mAP'), ('inp', 'mINP')):
            means = [np.mean([q[key] for q in trial if q['valid']])
                     for trial in per_trial]
            assert one['metrics'][f'sysu/{setting}/{score}'] == \
                pytest.approx(100 * np.mean(means))
        r1 = [np.mean([q['first_match_rank'] == 1 for q in trial
                       if q['valid']]) for trial in per_trial]
        assert one['metrics'][f'sysu/{setting}/R1'] == pytest.approx(
            100 * np.mean(r1))
        assert all(q['ap'] is None for trial in per_trial for q in trial
                   if not q['valid'])


def test_ddp_validation_equals_testing_the_checkpoint(tiny_sysu, tmp_path,
                                                      monkeypatch):
    monkeypatch.setenv(
        'PYTHONPATH',
        os.pathsep.join(p for p in (HERE, REPO, os.environ.get('PYTHONPATH'))
                        if p))
    cfg = write_tiny_config(
        tmp_path / 'val.py',
        tiny_sysu,
        extra='custom_imports = dict(imports=["fault_hooks"])\n'
        'custom_hooks = [dict(type="DumpValBuffersHook")]\n'
        'train_cfg = dict(max_epochs=2, val_interval=2)\n')
    work = tmp_path / 'ddp'
    run_tool(['tools/train.py', cfg, '--work-dir', str(work)], nproc=2)
    # every rank validated with rank 0's buffers, which epoch_2.pth holds
    ranks = [
        torch.load(work / f'val_buffers_rank{r}.pth', weights_only=True)
        for r in range(2)
    ]
    saved = torch.load(work / 'epoch_2.pth', map_location='cpu')['state_dict']
    assert 'backbone.shared.layer4.0.bn1.running_mean' in ranks[0]
    for name, buffer in ranks[0].items():
        assert torch.equal(ranks[1][name], buffer), name
        if name in saved:  # not the preprocessor's non-persistent constants
            assert torch.equal(saved[name], buffer), name
    # so validation in training reports what testing the checkpoint does
    scalars = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars[0]) as f:
        val = [json.loads(line) for line in f if 'sysu/all/mAP' in line][-1]
    run_tool([
        'tools/test.py', cfg,
        str(work / 'epoch_2.pth'), '--work-dir',
        str(tmp_path / 't'), '--out',
        str(tmp_path / 'test.json')
    ])
    with open(tmp_path / 'test.json') as f:
        test = json.load(f)['metrics']
    assert 'sysu/all/mAP' in test
    for key, value in test.items():
        assert val[key] == pytest.approx(value, abs=1e-3), key


@pytest.mark.parametrize('backbone', [
    "dict(type='ResNet', depth=18, strides=(1, 2, 2, 1))",
    "dict(type='ResNeXt', depth=50, groups=32, width_per_group=4, "
    "strides=(1, 2, 2, 1))",
])
def test_other_mmpretrain_backbones_train_a_step(tiny_sysu, tmp_path,
                                                 backbone):
    channels = 512 if 'depth=18' in backbone else 2048
    extra = (f'model = dict(backbone=dict(backbone=dict(_delete_=True, '
             f'**{backbone})), head=dict(in_channels={channels}))')
    cfg = Config.fromfile(
        write_tiny_config(tmp_path / 'c.py', tiny_sysu, extra=extra))
    cfg.work_dir = str(tmp_path / 'w')
    cfg.train_cfg.max_epochs = 1
    cfg.train_dataloader.sampler.iters_per_epoch = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    before = runner.model.backbone.shared.layer4[0].conv1.weight.clone()
    runner.train()
    assert type(runner.model.backbone.shared).__name__ == \
        backbone.split("'")[1]
    after = runner.model.backbone.shared.layer4[0].conv1.weight
    assert not torch.equal(before, after)


def test_untrained_evaluates_the_initialised_model(trained, tmp_path,
                                                   monkeypatch):
    cfg_path, _ = trained
    run_tool([
        'tools/test.py', cfg_path, '--untrained', '--work-dir',
        str(tmp_path / 'u'), '--out',
        str(tmp_path / 'untrained.json')
    ])
    # the same model through a checkpoint: built and initialised as
    # runner.train() would start it
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = str(tmp_path / 'init')
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    runner.save_checkpoint(cfg.work_dir, 'init.pth', save_optimizer=False,
                           save_param_scheduler=False)
    run_tool([
        'tools/test.py', cfg_path,
        str(tmp_path / 'init' / 'init.pth'), '--work-dir',
        str(tmp_path / 'c'), '--out',
        str(tmp_path / 'checkpoint.json')
    ])
    with open(tmp_path / 'untrained.json') as f:
        untrained = json.load(f)['metrics']
    with open(tmp_path / 'checkpoint.json') as f:
        expected = json.load(f)['metrics']
    assert set(untrained) == set(expected) and 'sysu/all/mAP' in expected
    for key in expected:
        assert untrained[key] == pytest.approx(expected[key], abs=1e-3), key

    # the refusals, in this process (they come before any model is built)
    test = runpy.run_path(osp.join(REPO, 'tools', 'test.py'))
    monkeypatch.setenv('LOCAL_RANK', '0')  # parse_args sets it
    for args in ([], [str(tmp_path / 'init' / 'init.pth'), '--untrained']):
        monkeypatch.setattr('sys.argv', ['tools/test.py', cfg_path] + args)
        with pytest.raises(SystemExit, match='exactly one of them'):
            test['merge_args'](Config.fromfile(cfg_path),
                               test['parse_args']())
