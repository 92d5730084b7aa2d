"""TrainableParamsHook, EfficiencyHook and AdapterCheckpointHook through the
real mmengine Runner on the synthetic ADE20K demo data."""
import json
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import SEG_DEMO, run_tool


def make_runner(work_dir, max_iters, resume_from=None):
    cfg = Config.fromfile(SEG_DEMO)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'hooks-{uuid.uuid4().hex[:8]}'
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = 1000
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.param_scheduler = [  # an lr that changes every iteration
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=6)
    ]
    if resume_from:
        cfg.resume, cfg.load_from = True, str(resume_from)
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def trained(workspace, tmp_path_factory):
    """A 4-iteration run of the seg demo with checkpoints at 2 and 4."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workspace)
        work_dir = tmp_path_factory.mktemp('hooks_run')
        runner = make_runner(work_dir, 4)
        runner.train()
    return work_dir, runner


def test_trainable_params_report(trained):
    work_dir, runner = trained
    report = json.loads((work_dir / 'trainable_params.json').read_text())
    model = runner.model
    backbone_trainable = sum(p.numel() for p in model.backbone.parameters()
                             if p.requires_grad)
    assert report['backbone']['trainable'] == backbone_trainable > 0
    assert report['backbone']['total'] == sum(
        p.numel() for p in model.backbone.parameters())
    assert report['neck']['total'] == 0  # UperNet: backbone + heads only
    assert report['head']['trainable'] == report['head']['total'] > 0
    assert report['all']['trainable'] == (report['backbone']['trainable'] +
                                          report['head']['trainable'])
    assert report['backbone']['trainable_share'] < 0.2
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'trainable params:' in log and 'trainable%:' in log


def test_efficiency_scalars_are_logged(trained):
    work_dir, _ = trained
    scalars = [json.loads(line) for line in next(
        work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()]
    train = [s for s in scalars if 'step_time' in s]
    assert len(train) == 4
    for row in train:
        assert row['step_time'] > 0
        assert row['saved_for_backward_mb'] > 0
        assert row['peak_rss_mb'] > 100


def test_checkpoints_are_adapter_only(trained):
    work_dir, runner = trained
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    backbone = runner.model.backbone
    trainable = {f'backbone.{n}' for n, p in backbone.named_parameters()
                 if p.requires_grad}
    saved_backbone = {k for k in ckpt['state_dict'] if k.startswith('backbone.')}
    assert saved_backbone == trainable
    assert any(k.startswith('decode_head.') for k in ckpt['state_dict'])
    assert 'optimizer' in ckpt and 'param_schedulers' in ckpt
    assert ckpt['meta']['adapter_only']['base_checkpoint'].endswith(
        'swin-demo_synthetic-pretrain.pth')
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Adapter-only checkpoint' in log and '% of the full checkpoint' in log


def test_resume_from_adapter_only_checkpoint_is_exact(trained, workspace,
                                                      monkeypatch):
    work_dir, _ = trained
    monkeypatch.chdir(workspace)
    at2 = torch.load(work_dir / 'iter_2.pth', map_location='cpu')
    at4 = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    pretrained = torch.load('data/pretrained/swin-demo_synthetic-pretrain.pth')

    # Resume without training: the state equals the checkpoint bitwise.
    runner = make_runner(work_dir / 'resumed', 2, work_dir / 'iter_2.pth')
    runner.train()
    state = runner.model.state_dict()
    for key, value in at2['state_dict'].items():
        assert torch.equal(state[key], value), key
    for key, value in pretrained['state_dict'].items():
        assert torch.equal(state[f'backbone.{key}'], value), key
    assert runner.iter == 2
    for group, saved in zip(runner.optim_wrapper.optimizer.param_groups,
                            at2['optimizer']['param_groups']):
        assert group['lr'] == saved['lr']

    # Continue to iteration 4: the schedule carries on exactly.
    runner = make_runner(work_dir / 'continued', 4, work_dir / 'iter_2.pth')
    runner.train()
    assert runner.iter == 4
    for group, saved in zip(runner.optim_wrapper.optimizer.param_groups,
                            at4['optimizer']['param_groups']):
        assert group['lr'] == saved['lr']
    assert (runner.param_schedulers[0].last_step ==
            at4['param_schedulers'][0]['last_step'])


def test_tools_test_runs_from_adapter_only_checkpoint(trained, workspace):
    work_dir, _ = trained
    out = run_tool('test.py', SEG_DEMO, work_dir / 'iter_4.pth',
                   '--work-dir', work_dir / 'test', cwd=workspace)
    assert 'adapter-only checkpoint; frozen weights restored' in out
    assert 'mIoU:' in out
