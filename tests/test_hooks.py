"""TrainableParamsHook, EfficiencyHook and AdapterCheckpointHook through the
real mmengine Runner on the synthetic ADE20K demo data; adapter-only
checkpoints are pinned to their base, and checkpoints that do not match the
config are refused."""
import json
import re
import subprocess
import sys
import uuid

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint
from mmseg.registry import MODELS as SEG_MODELS

from conftest import DET_DEMO, ROOT, SEG_DEMO, run_tool
from mmdet_e3va.engine.hooks import CheckpointMismatchError, EfficiencyHook
from mmdet_e3va.engine.hooks.checkpoint_match_hook import \
    check_checkpoint_matches
from mmdet_e3va.models.backbones.swin_checkpoint import (BASE_RECORD_KEY,
                                                         frozen_fingerprint)

PRETRAINED = 'data/pretrained/swin-demo_synthetic-pretrain.pth'


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
    work_dir, runner = trained
    hub = runner.message_hub
    # 4 iterations: every one timed, the memory profiled on the first only
    # (memory_interval=10 on CPU).
    assert len(hub.get_scalar('train/step_time').data[0]) == 4
    assert len(hub.get_scalar('train/peak_mem_mb').data[0]) == 1
    with pytest.raises(ValueError, match='memory_interval'):
        EfficiencyHook(memory_interval=0)
    scalars = [json.loads(line) for line in next(
        work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()]
    train = [s for s in scalars if 'step_time' in s]
    assert len(train) == 4
    for row in train:
        assert row['step_time'] > 0
        assert row['peak_mem_mb'] > 0
        assert row['peak_rss_mb'] > 100


def test_checkpoints_are_adapter_only(trained, workspace):
    work_dir, runner = trained
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu',
                      weights_only=True)
    backbone = runner.model.backbone
    trainable = {f'backbone.{n}' for n, p in backbone.named_parameters()
                 if p.requires_grad}
    saved_backbone = {k for k in ckpt['state_dict'] if k.startswith('backbone.')}
    assert saved_backbone == trainable
    assert any(k.startswith('decode_head.') for k in ckpt['state_dict'])
    assert 'optimizer' in ckpt and 'param_schedulers' in ckpt
    base = ckpt['meta']['adapter_only']
    assert base['base_checkpoint'] == PRETRAINED
    assert base['base_checkpoint_resolved'] == str(
        workspace / PRETRAINED)
    frozen = [(n, p) for n, p in backbone.named_parameters()
              if not p.requires_grad]
    assert base['base_fingerprint'] == frozen_fingerprint(frozen)
    # the same record where the backbone's load pre-hook reads it (an fp32
    # model: no frozen tensor stored in another dtype)
    assert ckpt['state_dict']._metadata['backbone'][BASE_RECORD_KEY] == dict(
        checkpoint=PRETRAINED, resolved=str(workspace / PRETRAINED),
        fingerprint=base['base_fingerprint'], dtypes={})
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Adapter-only checkpoint' in log and '% of the full checkpoint' in log


def test_resume_from_adapter_only_checkpoint_is_exact(trained, workspace,
                                                      monkeypatch):
    work_dir, _ = trained
    monkeypatch.chdir(workspace)
    at2, at4, pretrained = (
        torch.load(path, map_location='cpu', weights_only=True)
        for path in (work_dir / 'iter_2.pth', work_dir / 'iter_4.pth',
                     PRETRAINED))

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


def _seg_model(**backbone):
    cfg = Config.fromfile(SEG_DEMO)
    cfg.model.backbone.update(backbone)
    return SEG_MODELS.build(cfg.model)


def test_wrong_base_is_refused(trained, workspace, tmp_path, monkeypatch):
    """The adapters of iter_4.pth restored on a base of the same shape but
    other weights: refused, naming both fingerprints and base files, unless
    ``E3VA_ALLOW_BASE_MISMATCH=1``."""
    work_dir, _ = trained
    monkeypatch.chdir(workspace)
    base = torch.load(PRETRAINED, weights_only=True)
    for value in base['state_dict'].values():
        if value.is_floating_point():
            value.add_(torch.randn_like(value), alpha=1e-3)
    torch.save(base, tmp_path / 'noisy_base.pth')
    model = _seg_model(init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'noisy_base.pth')))
    model.init_weights()
    recorded = torch.load(work_dir / 'iter_4.pth', weights_only=True)[
        'meta']['adapter_only']['base_fingerprint']
    with pytest.raises(ValueError) as err:
        load_checkpoint(model, str(work_dir / 'iter_4.pth'))
    message = str(err.value)
    assert recorded in message and PRETRAINED in message
    assert 'noisy_base.pth' in message
    assert 'E3VA_ALLOW_BASE_MISMATCH' in message
    assert message.count('fingerprint ') == 2

    monkeypatch.setenv('E3VA_ALLOW_BASE_MISMATCH', '1')
    load_checkpoint(model, str(work_dir / 'iter_4.pth'))
    assert torch.equal(
        model.backbone.stages[0].blocks[0].attn.w_msa.qkv.weight,
        base['state_dict']['stages.0.blocks.0.attn.w_msa.qkv.weight'])


def test_mismatching_checkpoints_are_refused(trained, workspace,
                                             monkeypatch):
    """Partial cases pass (adapter-only file; an upstream checkpoint without
    the tuning modules as ``load_from``); a detector in the segmentor, or a
    rank-4 file in a rank-8 model, is refused naming the keys."""
    work_dir, _ = trained
    monkeypatch.chdir(workspace)
    adapter_only = torch.load(work_dir / 'iter_4.pth',
                              weights_only=True)['state_dict']
    model = _seg_model()
    check_checkpoint_matches(model, adapter_only, 'iter_4.pth')
    upstream = {k: v for k, v in model.state_dict().items()
                if '.tuning.' not in k}
    check_checkpoint_matches(model, upstream, 'up.pth',
                             allow_fresh_tuning=True)
    with pytest.raises(CheckpointMismatchError,
                       match=r'up\.pth.*missing: backbone\.tuning\.'):
        check_checkpoint_matches(model, upstream, 'up.pth')

    detector = DET_MODELS.build(
        Config.fromfile(DET_DEMO).model).state_dict()
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_matches(model, detector, 'det.pth')
    assert re.search(r'det\.pth.*missing: [^;]*decode_head\.', str(err.value))
    assert re.search(r'unknown to the model: [^;]*(neck|roi_head)\.',
                     str(err.value))

    with pytest.raises(CheckpointMismatchError,
                       match=r'iter_4\.pth.*another shape.*backbone\.tuning'):
        check_checkpoint_matches(
            _seg_model(tuning=dict(type='E3VA', rank=8)), adapter_only,
            'iter_4.pth')


def test_tools_test_refuses_shape_mismatch(trained, workspace):
    work_dir, _ = trained
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools/test.py'), str(SEG_DEMO),
         str(work_dir / 'iter_4.pth'), '--work-dir', str(work_dir / 'rank8'),
         '--cfg-options', 'model.backbone.tuning.rank=8'],
        cwd=workspace, capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'CheckpointMismatchError' in out and 'iter_4.pth' in out
    assert 'mIoU:' not in out  # no evaluation ran
