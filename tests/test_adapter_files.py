"""Adapter files (``adapter.safetensors`` + ``adapter_config.json``) and
merged LoRA checkpoints, on the demo-sized detector and segmentor with the
tiny pretrained Swin: exports load back to the same outputs, wrong bases
and mismatched configs are refused as for ``.pth`` files, the adapter file
holds no pickle, and a merged LoRA checkpoint is a plain upstream Swin
model that loads without this project."""
import json
import pickle
import re
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from conftest import DET_DEMO, SEG_DEMO, run_tool
from mmdet_e3va import __version__, load_adapter, save_adapter
from mmdet_e3va.adapter_files import (ADAPTER_FILE, CONFIG_FILE,
                                      adapter_state_dict,
                                      build_model_from_checkpoint)
from mmdet_e3va.engine.hooks import CheckpointMismatchError
from mmdet_e3va.models import TunedSwinTransformer
from mmdet_e3va.models.backbones.swin_checkpoint import (BASE_RECORD_KEY,
                                                         base_record)
from mmdet_e3va.utils import CorruptCheckpointError
from tools.merge_lora import merged_state_dict, upstream_backbone_cfg

PRETRAINED = 'data/pretrained/swin-demo_synthetic-pretrain.pth'
LORA = dict(type='LoRA', rank=4, alpha=4, targets=('q', 'v', 'proj'))
TINY = dict(embed_dims=16, depths=(2, 2), num_heads=(1, 2),
            out_indices=(0, 1))


def demo_cfg(demo, workspace, **backbone):
    """The demo config on the workspace's tiny pretrained Swin."""
    cfg = Config.fromfile(demo)
    cfg.model.backbone.init_cfg.checkpoint = str(workspace / PRETRAINED)
    cfg.model.backbone.update(backbone)
    return cfg


def build(cfg):
    init_default_scope(cfg.default_scope)
    return MODELS.build(cfg.model)


def trained_model(cfg):
    """The model on its pretrained base with every trainable tensor moved
    off its initialisation (zero-initialised adapter outputs included), as
    training leaves it; in eval mode."""
    torch.manual_seed(0)
    model = build(cfg)
    model.init_weights()
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param), alpha=0.05)
    return model.eval()


def demo_input():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(1, 3, 64, 64, generator=generator)


def outputs(model):
    """The backbone+neck features and the heads' raw outputs (the
    segmentor's logits; the detector's RPN maps) on :func:`demo_input`."""
    x = demo_input()
    with torch.no_grad():
        feats = model.extract_feat(x)
        heads = (model.rpn_head(feats) if hasattr(model, 'rpn_head') else
                 model.decode_head(feats))
    return torch.utils._pytree.tree_leaves((feats, heads))


def assert_same_outputs(model, expected, atol=0.0):
    """Bitwise by default; merged weights round differently (``atol``)."""
    for out, exp in zip(outputs(model), expected, strict=True):
        torch.testing.assert_close(out, exp, rtol=0, atol=atol)


def save_adapter_only_pth(model, path):
    """An adapter-only ``.pth`` as ``AdapterCheckpointHook`` writes it."""
    state = OrderedDict(adapter_state_dict(model))
    state._metadata = OrderedDict(
        backbone={BASE_RECORD_KEY: base_record(model.backbone)})
    torch.save(dict(state_dict=state, meta={}), path)


@pytest.fixture(scope='module')
def seg_export(workspace, tmp_path_factory):
    """A 'trained' seg demo model, its outputs, its adapter-only ``.pth``
    and the export of that file by ``tools/export_adapter.py``."""
    root = tmp_path_factory.mktemp('seg_export')
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workspace)  # the base as the config names it, relative
        model = trained_model(Config.fromfile(SEG_DEMO))
        save_adapter_only_pth(model, root / 'iter_1.pth')
    out = run_tool('export_adapter.py', SEG_DEMO, root / 'iter_1.pth',
                   root / 'export', cwd=workspace)
    assert 'adapter.safetensors' in out and 'fingerprint' in out, out
    return outputs(model), root / 'iter_1.pth', root / 'export'


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_export_and_load_give_the_same_outputs(task, workspace, tmp_path):
    demo = DET_DEMO if task == 'det' else SEG_DEMO
    model = trained_model(demo_cfg(demo, workspace))
    expected = outputs(model)
    save_adapter_only_pth(model, tmp_path / 'adapter_only.pth')

    # Export from the .pth, as tools/export_adapter.py does.
    cfg = demo_cfg(demo, workspace)
    loaded, _ = build_model_from_checkpoint(cfg, str(tmp_path /
                                                     'adapter_only.pth'))
    config = save_adapter(loaded, tmp_path / 'export', cfg)
    assert json.loads((tmp_path / 'export' / CONFIG_FILE).read_text()) == \
        config
    assert config['task'] == task and config['version'] == __version__
    assert config['tuning'] == dict(type='E3VA', rank=4)
    assert config['backbone']['embed_dims'] == 32
    assert config['base_checkpoint'] == base_record(model.backbone)

    # The file holds the trainable tensors only, bitwise.
    saved = CheckpointLoader.load_checkpoint(
        str(tmp_path / 'export' / ADAPTER_FILE))
    state = model.state_dict()
    assert saved['state_dict'].keys() == adapter_state_dict(model).keys()
    assert not any(k.startswith('backbone.stages.')
                   for k in saved['state_dict'])
    for key, value in saved['state_dict'].items():
        assert torch.equal(value, state[key]), key

    # Back into fresh models: load_adapter, and load_from's route.
    fresh = build(demo_cfg(demo, workspace))
    assert load_adapter(fresh, str(tmp_path / 'export')) == config
    assert_same_outputs(fresh.eval(), expected)
    fresh, _ = build_model_from_checkpoint(
        demo_cfg(demo, workspace), str(tmp_path / 'export' / ADAPTER_FILE))
    assert_same_outputs(fresh, expected)


def test_tools_test_evaluates_the_export_as_the_pth(seg_export, workspace,
                                                    tmp_path):
    """``tools/test.py`` on the ``.pth`` and on its export: the same
    metrics and the same predicted label maps, byte for byte."""
    _, pth, export = seg_export
    metrics, predictions = [], []
    for checkpoint in (pth, export / ADAPTER_FILE):
        run = tmp_path / checkpoint.suffix[1:]
        out = run_tool('test.py', SEG_DEMO, checkpoint, '--work-dir', run,
                       '--out', run / 'pred', cwd=workspace)
        assert 'frozen weights restored' in out
        metrics.append(re.search(r'aAcc: \S+\s+mIoU: \S+\s+mAcc: \S+',
                                 out).group())
        predictions.append({p.name: p.read_bytes()
                            for p in (run / 'pred').glob('*.png')})
    assert metrics[0] == metrics[1]
    assert predictions[0] == predictions[1] and len(predictions[0]) == 4


def test_wrong_base_is_refused_as_for_the_pth(seg_export, workspace,
                                              tmp_path):
    _, pth, export = seg_export
    base = torch.load(workspace / PRETRAINED, weights_only=True)
    for value in base['state_dict'].values():
        if value.is_floating_point():
            value.add_(torch.randn_like(value), alpha=1e-3)
    torch.save(base, tmp_path / 'other_base.pth')
    messages = []
    for checkpoint in (pth, export / ADAPTER_FILE):
        cfg = demo_cfg(SEG_DEMO, workspace)
        cfg.model.backbone.init_cfg.checkpoint = str(tmp_path /
                                                     'other_base.pth')
        with pytest.raises(ValueError, match='fingerprint') as err:
            load_checkpoint(build(cfg), str(checkpoint))
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert 'other_base.pth' in messages[1]


def test_mismatched_config_is_refused_as_for_the_pth(seg_export, workspace):
    _, pth, export = seg_export
    messages = []
    for checkpoint in (pth, export / ADAPTER_FILE):
        cfg = demo_cfg(SEG_DEMO, workspace, tuning=dict(type='E3VA', rank=8))
        with pytest.raises(CheckpointMismatchError,
                           match='another shape.*backbone.tuning'):
            build_model_from_checkpoint(cfg, str(checkpoint))
        cfg = demo_cfg(SEG_DEMO, workspace, tuning=LORA)
        with pytest.raises(CheckpointMismatchError) as err:
            build_model_from_checkpoint(cfg, str(checkpoint))
        messages.append(str(err.value).replace(str(checkpoint), 'FILE'))
    assert messages[0] == messages[1]
    assert 'missing: backbone.tuning.lora' in messages[1]


def test_adapter_file_holds_no_pickle(seg_export, monkeypatch):
    _, _, export = seg_export
    raw = (export / ADAPTER_FILE).read_bytes()
    size = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + size])
    meta = header.pop('__metadata__')
    # After the JSON header, nothing but the tensors' raw bytes.
    assert 8 + size + max(t['data_offsets'][1]
                          for t in header.values()) == len(raw)
    assert json.loads(meta['meta'])['adapter']['task'] == 'seg'

    def refuse(*args, **kwargs):
        raise AssertionError('the adapter file went through unpickling')

    monkeypatch.setattr(torch, 'load', refuse)
    monkeypatch.setattr(pickle, 'load', refuse)
    monkeypatch.setattr(pickle, 'loads', refuse)
    checkpoint = CheckpointLoader.load_checkpoint(str(export / ADAPTER_FILE))
    assert checkpoint['state_dict'].keys() == header.keys()


def test_damaged_adapter_file_is_named(seg_export, tmp_path):
    _, pth, export = seg_export
    raw = (export / ADAPTER_FILE).read_bytes()
    (tmp_path / 'cut.safetensors').write_bytes(raw[:-100])
    (tmp_path / 'pickle.safetensors').write_bytes(pth.read_bytes())
    for name in ('cut.safetensors', 'pickle.safetensors'):
        with pytest.raises(CorruptCheckpointError,
                           match=f'{name} is not a readable safetensors'):
            CheckpointLoader.load_checkpoint(str(tmp_path / name))


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_merged_lora_is_a_plain_upstream_model(task, workspace):
    demo = DET_DEMO if task == 'det' else SEG_DEMO
    cfg = demo_cfg(demo, workspace, tuning=LORA)
    model = trained_model(cfg)
    expected = outputs(model)
    state = merged_state_dict(model)
    assert not any('tuning' in k for k in state)
    with pytest.raises(ValueError, match='merged'):
        save_adapter(model, 'unused', cfg)

    cfg.model.backbone = ConfigDict(upstream_backbone_cfg(cfg.model.backbone))
    plain = build(cfg).eval()
    assert type(plain.backbone).__module__ == (
        f'mm{task}.models.backbones.swin')
    plain.load_state_dict(state, strict=True)
    assert_same_outputs(plain, expected, atol=1e-4)


def test_merged_lora_saved_and_reloaded_adds_the_update_once(tmp_path):
    swin = TunedSwinTransformer(tuning=LORA, **TINY)
    with torch.no_grad():
        for up in swin.tuning.lora_up.values():
            up.weight.normal_(std=0.05)
    swin.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = swin(x)
    swin.tuning.merge(swin)
    torch.save(swin.state_dict(), tmp_path / 'merged.pth')

    fresh = TunedSwinTransformer(tuning=LORA, **TINY).eval()
    fresh.load_state_dict(
        torch.load(tmp_path / 'merged.pth', weights_only=True), strict=True)
    assert bool(fresh.tuning.merged)
    with torch.no_grad():
        for out, exp in zip(fresh(x), expected, strict=True):
            torch.testing.assert_close(out, exp, rtol=0, atol=1e-5)
    with pytest.raises(RuntimeError, match='merged already'):
        fresh.tuning.merge(fresh)


def test_adapter_methods_are_not_folded(workspace):
    model = build(demo_cfg(SEG_DEMO, workspace))
    with pytest.raises(ValueError, match='E3VA.*cannot be folded'):
        merged_state_dict(model)


PLAIN_LOAD = '''
import sys
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
config, checkpoint, inputs, out = sys.argv[1:]
cfg = Config.fromfile(config)
init_default_scope(cfg.default_scope)
model = MODELS.build(cfg.model).eval()
state = torch.load(checkpoint, map_location='cpu', weights_only=True)
model.load_state_dict(state['state_dict'], strict=True)
with torch.no_grad():
    torch.save(model._forward(torch.load(inputs, weights_only=True)), out)
assert not any(m.startswith('mmdet_e3va') for m in sys.modules)
print(type(model.backbone).__module__)
'''


def test_merged_checkpoint_loads_without_this_project(workspace, tmp_path):
    """``tools/merge_lora.py`` on a LoRA segmentor's checkpoint; a process
    that never imports mmdet_e3va builds the config with the upstream
    backbone the file's meta names, loads the file weights-only and
    strictly, and computes the same logits."""
    cfg = demo_cfg(SEG_DEMO, workspace, tuning=LORA)
    model = trained_model(cfg)
    with torch.no_grad():
        expected = model._forward(demo_input())
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=('a', 'b')))),
               tmp_path / 'lora.pth')
    cfg.dump(tmp_path / 'lora_cfg.py')
    run_tool('merge_lora.py', tmp_path / 'lora_cfg.py', tmp_path / 'lora.pth',
             tmp_path / 'merged.pth', cwd=workspace)

    merged = torch.load(tmp_path / 'merged.pth', weights_only=True)
    assert merged['meta']['dataset_meta'] == dict(classes=('a', 'b'))
    cfg.model.backbone = ConfigDict(merged['meta']['backbone'])
    cfg.pop('custom_imports', None)
    cfg.dump(tmp_path / 'plain_cfg.py')
    torch.save(demo_input(), tmp_path / 'inputs.pth')
    result = subprocess.run(
        [sys.executable, '-c', PLAIN_LOAD, str(tmp_path / 'plain_cfg.py'),
         str(tmp_path / 'merged.pth'), str(tmp_path / 'inputs.pth'),
         str(tmp_path / 'logits.pth')],
        cwd=workspace, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mmseg.models.backbones.swin' in result.stdout
    torch.testing.assert_close(
        torch.load(tmp_path / 'logits.pth', weights_only=True), expected,
        rtol=0, atol=1e-4)
