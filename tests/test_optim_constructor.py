"""TrainableOptimWrapperConstructor on the real Swin-L E3VA UperNet config:
one summary line instead of a warning per frozen parameter, and the same
param groups as mmengine's default constructor for the trainable ones."""
import copy
import logging
import uuid
from pathlib import Path

import pytest
import torch
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET_CONSTRUCTORS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_CONSTRUCTORS

from mmdet_e3va.engine import TrainableOptimWrapperConstructor

ROOT = Path(__file__).resolve().parents[1]
SWIN_L = ROOT / 'configs/ade20k/upernet_swin-l-p4-w7-e3va_8xb2-160k_ade20k-512x512.py'  # noqa: E501
CONSTRUCTOR = 'TrainableOptimWrapperConstructor'


@pytest.fixture(scope='module')
def swin_l():
    """The config and the model it builds (Swin-L E3VA UperNet)."""
    cfg = Config.fromfile(SWIN_L)
    init_default_scope('mmseg')
    return cfg, MODELS.build(cfg.model)


class Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def build(model, optim_wrapper_cfg):
    """``build_optim_wrapper`` (the Runner's route) under a fresh current
    logger; returns the optim wrapper and the messages it logged."""
    logger = MMLogger.get_instance(f'optim-{uuid.uuid4().hex[:8]}')
    records = Records()
    logger.addHandler(records)
    optim_wrapper = build_optim_wrapper(model,
                                        copy.deepcopy(optim_wrapper_cfg))
    return optim_wrapper, records.messages


def groups(optim_wrapper):
    """The param groups as comparable tuples: parameter ids and options."""
    return [(tuple(id(p) for p in g['params']),
             tuple(sorted((k, v) for k, v in g.items() if k != 'params')))
            for g in optim_wrapper.optimizer.param_groups]


def test_registered_for_mmdet_and_mmseg():
    for registry in (MMDET_CONSTRUCTORS, MMSEG_CONSTRUCTORS):
        assert registry.get(CONSTRUCTOR) is TrainableOptimWrapperConstructor


@pytest.mark.parametrize('paramwise_cfg', [
    None,  # the config's own: custom_keys with decay_mult=0
    dict(norm_decay_mult=0., bias_decay_mult=0., bias_lr_mult=2.),
    dict(custom_keys={'backbone': dict(lr_mult=0.1),
                      'decode_head.fpn_convs': dict(lr_mult=2.,
                                                    decay_mult=0.5)},
         norm_decay_mult=0., dwconv_decay_mult=0.),
], ids=['config', 'norm-bias-mults', 'custom-keys-and-mults'])
def test_one_line_and_default_param_groups(swin_l, paramwise_cfg):
    cfg, model = swin_l
    base = copy.deepcopy(cfg.optim_wrapper)
    # The paper configs name it; the reference is upstream's default.
    assert base.pop('constructor') == CONSTRUCTOR
    if paramwise_cfg is not None:
        base['paramwise_cfg'] = paramwise_cfg
    assert base['paramwise_cfg'], 'the Swin-L config sets paramwise_cfg'
    frozen = [p for p in model.parameters() if not p.requires_grad]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(frozen) > 300  # the "331 lines on Swin-L"

    default, default_log = build(model, base)
    ours, log = build(model, dict(base, constructor=CONSTRUCTOR))

    warnings = [m for m in default_log if 'requires_grad=False' in m]
    assert len(warnings) == len(frozen)  # upstream: one line per tensor
    assert not any('requires_grad=False' in m and 'is skipped' in m
                   for m in log)
    summary = [m for m in log if 'leaves out' in m]
    assert summary == [
        f'{CONSTRUCTOR}: the optimizer leaves out {len(frozen)} frozen '
        f'parameter tensors ({sum(p.numel() for p in frozen):,} elements, '
        'requires_grad=False)'
    ]
    assert groups(ours) == groups(default)
    assert {id(p) for g in ours.optimizer.param_groups
            for p in g['params']} == {id(p) for p in trainable}
    # The multipliers took effect (not a constructor that ignores them).
    options = {frozenset(o) for _, o in groups(ours)}
    assert len(options) > 1


def test_without_paramwise_cfg_only_trainable(swin_l):
    cfg, model = swin_l
    base = dict(type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer)
    default, _ = build(model, base)
    ours, log = build(model, dict(base, constructor=CONSTRUCTOR))
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(ours.optimizer.param_groups) == 1
    assert ours.optimizer.param_groups[0]['params'] == trainable
    # mmengine's default hands it every parameter, frozen ones included.
    assert len(default.optimizer.param_groups[0]['params']) == len(
        list(model.parameters()))
    frozen = sum(not p.requires_grad for p in model.parameters())
    assert sum(f'leaves out {frozen} frozen' in m for m in log) == 1
    assert {k: v for k, v in ours.optimizer.param_groups[0].items()
            if k != 'params'} == {
                k: v for k, v in default.optimizer.param_groups[0].items()
                if k != 'params'}


def test_trains_a_step(swin_l):
    """The optimizer steps the trainable parameters and leaves the others."""
    cfg, model = swin_l
    ours, _ = build(model, dict(cfg.optim_wrapper, constructor=CONSTRUCTOR))
    adapter = model.backbone.tuning.adapters[0][0]['attn'].up2.weight
    frozen = model.backbone.stages[0].blocks[0].ffn.layers[0][0].weight
    before = adapter.detach().clone(), frozen.detach().clone()
    adapter.grad = torch.ones_like(adapter)
    ours.step()
    ours.zero_grad()
    assert not torch.equal(adapter, before[0])
    assert torch.equal(frozen, before[1])


def _options_by_param(optim_wrapper):
    return {id(p): {k: v for k, v in g.items() if k != 'params'}
            for g in optim_wrapper.optimizer.param_groups
            for p in g['params']}


@pytest.mark.parametrize('with_paramwise_cfg', [True, False])
def test_swin_lr_mult_scales_the_backbone_own_parameters(
        swin_l, with_paramwise_cfg):
    """Only trainable ``backbone.*`` outside ``backbone.tuning.*`` get the
    multiplier (here one LayerNorm weight, as LN-tune trains); adapters and
    heads keep their lr, every other option stays."""
    cfg, model = swin_l
    base = dict(cfg.optim_wrapper)
    if not with_paramwise_cfg:
        base.pop('paramwise_cfg')
    own = model.backbone.stages[0].blocks[0].norm1.weight
    own.requires_grad_(True)
    try:
        plain, _ = build(model, base)
        scaled, log = build(model, dict(base, swin_lr_mult=0.1))
    finally:
        own.requires_grad_(False)
    before, after = _options_by_param(plain), _options_by_param(scaled)
    assert after.keys() == before.keys()
    for key, options in before.items():
        mult = 0.1 if key == id(own) else 1.0
        assert after[key]['lr'] == pytest.approx(options['lr'] * mult)
        assert dict(after[key], lr=0) == dict(options, lr=0)
    adapter = model.backbone.tuning.adapters[0][0]['attn'].up2.weight
    assert after[id(adapter)]['lr'] == cfg.optim_wrapper.optimizer.lr
    assert sum('lr x0.1 for 1 trainable tensors' in m for m in log) == 1


def test_tuning_lr_mult_scales_the_tuning_modules_only(swin_l):
    """``tuning_lr_mult`` scales ``backbone.tuning.*`` (adapters, norm
    deltas) and nothing else; with ``swin_lr_mult`` each part gets its own,
    and weight decay multipliers stay as ``paramwise_cfg`` set them."""
    cfg, model = swin_l
    base = dict(cfg.optim_wrapper)
    own = model.backbone.stages[0].blocks[0].norm1.weight
    own.requires_grad_(True)
    try:
        plain, _ = build(model, base)
        scaled, log = build(model, dict(base, swin_lr_mult=0.1,
                                        tuning_lr_mult=5))
    finally:
        own.requires_grad_(False)
    tuning = {id(p) for p in model.backbone.tuning.parameters()}
    before, after = _options_by_param(plain), _options_by_param(scaled)
    assert after.keys() == before.keys()
    for key, options in before.items():
        mult = 5 if key in tuning else 0.1 if key == id(own) else 1.0
        assert after[key]['lr'] == pytest.approx(options['lr'] * mult)
        assert dict(after[key], lr=0) == dict(options, lr=0)
    assert any(before[k]['weight_decay'] == 0 for k in tuning)  # deltas
    assert any(before[k]['weight_decay'] > 0 for k in tuning)  # adapters
    head = next(iter(model.decode_head.parameters()))
    assert after[id(head)]['lr'] == cfg.optim_wrapper.optimizer.lr
    count = sum(1 for _ in model.backbone.tuning.parameters())
    assert sum(f'lr x5 for {count} trainable tensors of the backbone\'s '
               'tuning modules' in m for m in log) == 1


@pytest.mark.parametrize('key', ['swin_lr_mult', 'tuning_lr_mult'])
@pytest.mark.parametrize('mult', [0, -1, '0.1'])
def test_lr_mults_must_be_positive(swin_l, key, mult):
    cfg, model = swin_l
    with pytest.raises(ValueError, match=f'optim_wrapper.{key}'):
        build(model, dict(cfg.optim_wrapper, **{key: mult}))
