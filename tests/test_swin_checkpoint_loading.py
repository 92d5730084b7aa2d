"""Pretrained Swin weights reach the frozen E3VA backbone unchanged, through
``init_cfg`` or ``load_from``, and mismatching checkpoints (missing keys, a
deeper Swin) and unknown tuning types are refused."""
import pytest
import torch
from mmdet.models.backbones import SwinTransformer
from mmengine.runner import load_checkpoint

from mmdet_e3va.models import E3VASwinTransformer, TunedSwinTransformer

TINY = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


@pytest.fixture
def upstream():
    torch.manual_seed(0)
    model = SwinTransformer(**TINY)
    model.init_weights()
    # Non-trivial output norms, so equality cannot come from defaults.
    for i in range(4):
        torch.nn.init.normal_(getattr(model, f'norm{i}').weight, 1, 0.3)
        torch.nn.init.normal_(getattr(model, f'norm{i}').bias, 0, 0.3)
    model.eval()  # upstream train() returns None
    return model


def _assert_same_as(e3va, upstream):
    for key, value in upstream.state_dict().items():
        torch.testing.assert_close(e3va.state_dict()[key], value, rtol=0,
                                   atol=0, msg=key)
    for i in range(4):
        norm, delta = getattr(e3va, f'norm{i}'), e3va.tuning.norm_deltas[str(i)]
        torch.testing.assert_close(norm.weight + delta.weight,
                                   getattr(upstream, f'norm{i}').weight)
        torch.testing.assert_close(norm.bias + delta.bias,
                                   getattr(upstream, f'norm{i}').bias)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for out, exp in zip(e3va.train()(x), upstream(x)):
            torch.testing.assert_close(out, exp, rtol=0, atol=1e-5)


@pytest.mark.parametrize('layout', ['raw', 'state_dict', 'detector'])
def test_init_cfg_loads_upstream_checkpoint(tmp_path, upstream, layout):
    state = upstream.state_dict()
    if layout == 'state_dict':
        state = dict(state_dict=state)
    elif layout == 'detector':
        state = dict(state_dict={
            **{f'backbone.{k}': v for k, v in state.items()},
            'neck.conv.weight': torch.zeros(1)
        })
    path = tmp_path / 'swin.pth'
    torch.save(state, path)
    model = E3VASwinTransformer(
        **TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    _assert_same_as(model, upstream)
    assert all(not p.requires_grad for n, p in model.named_parameters()
               if n in upstream.state_dict())


def test_load_from_detector_checkpoint(tmp_path, upstream):
    """The runner's ``load_from`` path (mmengine ``load_checkpoint``) on a
    checkpoint of an upstream-Swin model."""
    path = tmp_path / 'detector.pth'
    torch.save(
        dict(state_dict={
            f'backbone.{k}': v
            for k, v in upstream.state_dict().items()
        }), path)
    model = torch.nn.Module()
    model.backbone = E3VASwinTransformer(**TINY)
    model.backbone.init_weights()  # random Swin first, as in training
    load_checkpoint(model, str(path), map_location='cpu')
    _assert_same_as(model.backbone, upstream)


def test_missing_frozen_keys_are_named(tmp_path, upstream):
    state = upstream.state_dict()
    del state['stages.1.blocks.0.attn.w_msa.qkv.weight']
    torch.save(state, tmp_path / 'broken.pth')
    model = E3VASwinTransformer(
        **TINY,
        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'broken.pth')))
    with pytest.raises(KeyError, match='stages.1.blocks.0.attn.w_msa.qkv'):
        model.init_weights()


def test_official_keys_need_convert_weights(tmp_path, upstream):
    torch.save(dict(model={'layers.0.blocks.0.norm1.weight': torch.ones(16)}),
               tmp_path / 'official.pth')
    model = E3VASwinTransformer(
        **TINY,
        init_cfg=dict(type='Pretrained',
                      checkpoint=str(tmp_path / 'official.pth')))
    with pytest.raises(KeyError, match='convert_weights=True'):
        model.init_weights()


def test_bad_init_cfg_is_named():
    model = E3VASwinTransformer(**TINY, init_cfg=dict(type='Kaiming'))
    with pytest.raises(ValueError, match='init_cfg'):
        model.init_weights()


def test_deeper_checkpoint_needs_allow_truncation(tmp_path):
    """A Swin with 4 blocks in stage 2 read into one with 2: refused, unless
    ``allow_truncation=True``; then the shared blocks load unchanged."""
    torch.manual_seed(0)
    deeper = SwinTransformer(**dict(TINY, depths=(2, 2, 4, 2)))
    torch.save(deeper.state_dict(), tmp_path / 'deeper.pth')
    init_cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'deeper.pth'))
    model = E3VASwinTransformer(**TINY, init_cfg=init_cfg)
    with pytest.raises(KeyError, match=r'deeper Swin.*stages\.2\.blocks\.2.*'
                       r'allow_truncation=True'):
        model.init_weights()
    model = E3VASwinTransformer(
        **TINY, init_cfg=dict(init_cfg, allow_truncation=True))
    model.init_weights()
    key = 'stages.2.blocks.1.attn.w_msa.qkv.weight'
    torch.testing.assert_close(model.state_dict()[key],
                               deeper.state_dict()[key], rtol=0, atol=0)


def test_unknown_tuning_type_is_named():
    with pytest.raises(KeyError, match=r"'NoSuchMethod'.*E3VA"):
        TunedSwinTransformer(**TINY, tuning=dict(type='NoSuchMethod'))


def test_frozen_backbone_adapter_only_checkpoint_restores_its_base(
        tmp_path, upstream):
    """A Frozen backbone has no trainable parameter, so its adapter-only
    checkpoint (AdapterCheckpointHook) holds no backbone key at all: the
    base record alone must bring the frozen weights back from init_cfg,
    not leave the freshly built (random) ones."""
    from collections import OrderedDict

    from mmdet_e3va.models.backbones.swin_checkpoint import (BASE_RECORD_KEY,
                                                             base_record)
    path = tmp_path / 'base.pth'
    torch.save(upstream.state_dict(), path)

    def frozen():
        return TunedSwinTransformer(
            **TINY, tuning=dict(type='Frozen'),
            init_cfg=dict(type='Pretrained', checkpoint=str(path)))

    trained = frozen()
    trained.init_weights()
    state = OrderedDict()
    state._metadata = {'': {BASE_RECORD_KEY: base_record(trained)}}
    restored = frozen()  # built, not initialised: as in tools/test.py
    restored.load_state_dict(state)
    for key, value in upstream.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value), key
