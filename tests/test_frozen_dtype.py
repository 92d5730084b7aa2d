"""E3VA with ``frozen_dtype``: the frozen Swin stored and run in half
precision, trainable parts fp32, outputs close to the fp32 run,
checkpoints loading across dtypes (the taps kept at half precision:
tests/test_adapter_bank.py)."""
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from mmdet.models.backbones import SwinTransformer

from mmdet_e3va.models import E3VASwinTransformer, TunedSwinTransformer
from mmdet_e3va.models.backbones.swin_checkpoint import (BASE_RECORD_KEY,
                                                        base_record)

TINY = dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
DTYPES = dict(bf16=torch.bfloat16, fp16=torch.float16)
# Relative L2 error of the outputs against the fp32 run (measured: bf16
# about 4e-3, fp16 about 5e-4 on these weights).
OUTPUT_TOLERANCE = dict(bf16=2e-2, fp16=3e-3)


def relative_error(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def pair(name):
    """An fp32 E3VA Swin with random Swin weights and non-zero adapters,
    and a ``frozen_dtype=name`` one loaded from its state dict."""
    torch.manual_seed(0)
    upstream = SwinTransformer(**TINY)
    upstream.init_weights()
    fp32 = E3VASwinTransformer(**TINY)
    fp32.load_state_dict(upstream.state_dict(), strict=False)
    for p in fp32.tuning.parameters():
        nn.init.normal_(p, std=0.05)
    half = E3VASwinTransformer(**TINY, frozen_dtype=name)
    half.load_state_dict(fp32.state_dict())
    return fp32.train(), half.train()


@pytest.mark.parametrize('name', ['bf16', 'fp16'])
def test_storage_dtypes_keys_and_gradients(name):
    fp32, half = pair(name)
    assert list(half.state_dict()) == list(fp32.state_dict())
    for n, p in half.named_parameters():
        frozen_pass = (n.startswith('patch_embed.') or '.blocks.' in n) and (
            'norm' not in n)
        assert p.dtype == (DTYPES[name] if frozen_pass else torch.float32), n
        assert p.requires_grad == n.startswith('tuning.'), n
    outs = half(torch.randn(2, 3, 64, 80))
    assert all(o.dtype == torch.float32 for o in outs)
    sum(o.square().mean() for o in outs).backward()
    for n, p in half.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.dtype == torch.float32, n
            assert torch.isfinite(p.grad).all(), n
        else:
            assert p.grad is None, n


@pytest.mark.parametrize('name', ['bf16', 'fp16'])
def test_outputs_and_gradients_close_to_fp32(name):
    fp32, half = pair(name)
    x = torch.randn(2, 3, 61, 93)  # odd sizes: every stage pads
    outs_fp32, outs_half = fp32(x), half(x)
    for o32, o16 in zip(outs_fp32, outs_half):
        assert relative_error(o16, o32) < OUTPUT_TOLERANCE[name]
    for model, outs in ((fp32, outs_fp32), (half, outs_half)):
        sum((o * o.detach()).mean() for o in outs).backward()
    grads32 = torch.cat([p.grad.flatten() for p in fp32.tuning.parameters()])
    grads16 = torch.cat([p.grad.flatten() for p in half.tuning.parameters()])
    assert torch.cosine_similarity(grads16, grads32, dim=0) > 0.99


def test_checkpoints_load_across_dtypes(tmp_path):
    torch.manual_seed(0)
    upstream = SwinTransformer(**TINY)
    upstream.init_weights()
    path = tmp_path / 'swin_fp32.pth'
    torch.save(upstream.state_dict(), path)
    # An fp32 upstream checkpoint into a half model, through init_cfg.
    half = TunedSwinTransformer(
        **TINY, tuning=dict(type='E3VA', frozen_dtype='bf16'),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    half.init_weights()
    block = 'stages.1.blocks.0.ffn.layers.0.0.weight'
    assert half.state_dict()[block].dtype == torch.bfloat16
    torch.testing.assert_close(half.state_dict()[block].float(),
                               upstream.state_dict()[block], rtol=1e-2,
                               atol=1e-3)
    merging = 'stages.0.downsample.reduction.weight'
    assert torch.equal(half.state_dict()[merging],
                       upstream.state_dict()[merging])
    # The half model's E3VA checkpoint into an fp32 model, strictly: every
    # value arrives (upcast), adapters exactly.
    for p in half.tuning.parameters():
        nn.init.normal_(p, std=0.05)
    torch.save(half.state_dict(), tmp_path / 'e3va_bf16.pth')
    state = torch.load(tmp_path / 'e3va_bf16.pth', weights_only=True)
    fp32 = E3VASwinTransformer(**TINY)
    fp32.load_state_dict(state)
    for key, value in fp32.state_dict().items():
        assert value.dtype == (torch.float32 if value.is_floating_point()
                               else value.dtype), key
        assert torch.equal(value, state[key].to(value.dtype)), key
    # And an fp32 E3VA checkpoint back into a half model.
    half_again = E3VASwinTransformer(**TINY, frozen_dtype='bf16')
    half_again.load_state_dict(fp32.state_dict())
    for key, value in half_again.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_unknown_frozen_dtype_is_rejected():
    with pytest.raises(ValueError, match='frozen_dtype'):
        E3VASwinTransformer(**TINY, frozen_dtype='fp8')


@pytest.mark.parametrize('src,dst', [('bf16', None), (None, 'fp16')])
def test_adapter_only_checkpoints_load_across_dtypes(tmp_path, src, dst):
    """An adapter-only state dict (trainable keys and the base record, as
    AdapterCheckpointHook writes it) made on one storage dtype restores on
    another from the same base file, and is refused on another base."""
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        upstream = SwinTransformer(**TINY)
        upstream.init_weights()
        paths.append(str(tmp_path / f'base{seed}.pth'))
        torch.save(upstream.state_dict(), paths[-1])

    def model(frozen_dtype, base):
        return TunedSwinTransformer(
            **TINY, tuning=dict(type='E3VA', frozen_dtype=frozen_dtype),
            init_cfg=dict(type='Pretrained', checkpoint=base))

    trained = model(src, paths[0])
    trained.init_weights()
    for p in trained.tuning.parameters():
        nn.init.normal_(p, std=0.05)
    state = OrderedDict((n, p.detach().clone())
                        for n, p in trained.named_parameters()
                        if p.requires_grad)
    state._metadata = {'': {BASE_RECORD_KEY: base_record(trained)}}

    restored = model(dst, paths[0])
    restored.load_state_dict(state)
    base = torch.load(paths[0], weights_only=True)
    for name, value in restored.state_dict().items():
        expected = state[name] if name in state else base.get(name)
        if expected is not None:
            assert torch.equal(value, expected.to(value.dtype)), name
    with pytest.raises(ValueError, match='fingerprint'):
        model(dst, paths[1]).load_state_dict(state)
