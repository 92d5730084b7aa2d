"""E3VAPlus (E3VA+) against upstream Swin and E3VA: identity at
initialisation, gradients, saved-for-backward bytes, parameter budget, and
every ablation variant building and training."""
import functools

import pytest
import torch
import torch.nn as nn
from mmdet.models.backbones import SwinTransformer

from mmdet_e3va.models import TunedSwinTransformer
from mmdet_e3va.models.adapters import DualLowRankConvAdapter
from mmdet_e3va.models.backbones.tuned_swin import TUNING_PREFIX
from tools.study.e3va_plus_variants import E3VA_PLUS_ABLATIONS
from mmdet_e3va.utils import parameter_report
from test_e3va_backbone import (SWIN, TINY, _loss, _saved_bytes,
                                check_gradients_reach_only_and_all_trainable)

ABLATIONS = sorted(E3VA_PLUS_ABLATIONS)
E3VA_OPTIONS = dict(rank=20, dwconv=False, gate=False, tap_input=False,
                    highway_mix=False)


def build(swin_kwargs, tuning):
    return TunedSwinTransformer(tuning=tuning, **swin_kwargs)


def build_pair(swin_kwargs, tuning=dict(type='E3VAPlus')):
    """Upstream Swin (randomly initialised, eval) and E3VAPlus holding the
    same weights (train mode)."""
    upstream = SwinTransformer(**swin_kwargs)
    upstream.init_weights()
    upstream.eval()
    model = build(swin_kwargs, tuning)
    missing, unexpected = model.load_state_dict(upstream.state_dict(),
                                                strict=False)
    assert not unexpected
    assert missing and all(k.startswith(TUNING_PREFIX) for k in missing)
    model.train()
    return upstream, model


def assert_matches_upstream(upstream, model, x):
    with torch.no_grad():
        expected = upstream(x)
    outs = model(x)
    assert [o.shape for o in outs] == [e.shape for e in expected]
    for out, exp in zip(outs, expected):
        torch.testing.assert_close(out, exp, rtol=0, atol=1e-5)


@pytest.mark.parametrize('name', ABLATIONS)
def test_every_ablation_matches_upstream_at_init(name):
    torch.manual_seed(0)
    upstream, model = build_pair(TINY, E3VA_PLUS_ABLATIONS[name])
    assert_matches_upstream(upstream, model, torch.randn(1, 3, 61, 93))


@pytest.mark.parametrize('swin_kwargs', [
    SWIN['T'],
    dict(TINY, window_size=12, out_indices=(0, 1, 2, 3)),
    dict(TINY, out_indices=(1, 2, 3)),
    dict(TINY, out_indices=(0, 2)),
])
def test_default_matches_upstream_for_other_options(swin_kwargs):
    torch.manual_seed(0)
    upstream, model = build_pair(swin_kwargs)
    assert_matches_upstream(upstream, model, torch.randn(1, 3, 77, 77))


def _perturb_adapters(model):
    """Move every zero-initialised parameter off zero."""
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn(param.shape, generator=gen))


def test_with_every_option_off_it_is_e3va():
    torch.manual_seed(0)
    e3va = build(TINY, dict(type='E3VA'))
    _perturb_adapters(e3va)
    plus = build(TINY, dict(type='E3VAPlus', **E3VA_OPTIONS))
    plus.load_state_dict(e3va.state_dict(), strict=True)
    e3va.train()
    plus.train()
    x = torch.randn(1, 3, 61, 93)
    for out, exp in zip(plus(x), e3va(x)):
        torch.testing.assert_close(out, exp, rtol=0, atol=0)


@pytest.mark.parametrize('option', ['dwconv', 'gate', 'tap_input',
                                    'highway_mix'])
def test_each_option_changes_the_trained_function(option):
    """Away from initialisation, each addition alone changes the output of
    E3VA with the same shared weights: none is a no-op."""
    torch.manual_seed(0)
    e3va = build(TINY, dict(type='E3VAPlus', **E3VA_OPTIONS))
    plus = build(TINY, dict(type='E3VAPlus', **dict(E3VA_OPTIONS,
                                                    **{option: True})))
    _perturb_adapters(plus)
    e3va.load_state_dict(plus.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        diff = max((a - b).abs().max()
                   for a, b in zip(plus.train()(x), e3va.train()(x)))
    assert diff > 1e-3


def test_multi_kernel_dwconv_averages_one_filter_per_size():
    """``dwconv=(3, 5, 7)``: one zero-initialised depthwise convolution per
    size under ``dwconv.<i>``, averaged. With the 5x5 and 7x7 filters
    zero, it is the single-3x3 adapter whose 3x3 weights are a third; with
    them non-zero, it differs from it (the wide filters are used)."""
    torch.manual_seed(0)
    multi = DualLowRankConvAdapter(16, 8, 4, dwconv=(3, 5, 7))
    single = DualLowRankConvAdapter(16, 8, 4, dwconv=True)
    assert [conv.kernel_size for conv in multi.dwconv] == [(3, 3), (5, 5),
                                                          (7, 7)]
    assert all(not conv.weight.any() and not conv.bias.any()
               for conv in multi.dwconv)
    assert isinstance(single.dwconv, nn.Conv2d)  # E3VA+'s keys: dwconv.*
    x = torch.randn(2, 6 * 5, 16)
    with torch.no_grad():
        for name, param in multi.named_parameters():
            param.normal_()
        multi.dwconv[1].weight.zero_()
        multi.dwconv[2].weight.zero_()
        state = {k: v for k, v in multi.state_dict().items()
                 if not k.startswith('dwconv.')}
        single.load_state_dict(dict(
            state, **{'dwconv.weight': multi.dwconv[0].weight / 3,
                      'dwconv.bias': sum(c.bias for c in multi.dwconv) / 3}))
        torch.testing.assert_close(multi(x, (6, 5)), single(x, (6, 5)))
        multi.dwconv[2].weight.normal_()
        assert (multi(x, (6, 5)) - single(x, (6, 5))).abs().max() > 1e-3


def _saved_activation_bytes(model, x):
    """Bytes of the distinct tensors autograd saves, parameters left out."""
    params = {p.data_ptr() for p in model.parameters()}
    saved = {}

    def pack(tensor):
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in params:
            saved[ptr] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _loss(model(x)).backward()
    return sum(saved.values())


def test_multi_kernel_dwconv_saves_no_more_activations():
    """The 3x3, 5x5 and 7x7 filters read the same bottleneck tensor, so
    ``-msdw`` saves exactly ``-dw``'s activations; the adapter bank keeps
    its one averaged 7x7 kernel per stage where ``-dw`` keeps a 3x3."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 128, 128)
    dw, msdw = (_saved_activation_bytes(
        build(SWIN['T'], E3VA_PLUS_ABLATIONS[name]).train(), x)
        for name in ('E3VAPlus-dw', 'E3VAPlus-msdw'))
    kernels = sum(2 * depth * (96 * 2**i // 4) * (7 * 7 - 3 * 3) * 4
                  for i, depth in enumerate(SWIN['T']['depths']))
    assert msdw == dw + kernels


@pytest.mark.parametrize('dwconv', [(), (3, 4), (3, 3), (0, ), 3, (3.0, )])
def test_bad_dwconv_raises_naming_it(dwconv):
    with pytest.raises(ValueError, match=r'^E3VAPlus: dwconv'):
        build(TINY, dict(type='E3VAPlus', dwconv=dwconv))


@pytest.mark.parametrize('name, out_indices', [
    (name, (0, 1, 2, 3)) for name in ABLATIONS
] + [('E3VAPlus', (1, 2, 3))])
def test_gradients_reach_only_and_all_trainable(name, out_indices):
    torch.manual_seed(0)
    _, model = build_pair(dict(TINY, out_indices=out_indices),
                          E3VA_PLUS_ABLATIONS[name])
    # Zero starts (U2, convs, gates, highway adapters reading a zero
    # highway) hold some gradients at zero for the first steps; after two
    # steps every parameter sees one.
    check_gradients_reach_only_and_all_trainable(
        model, torch.randn(2, 3, 64, 64), steps=2)


def test_saved_tensors_are_a_small_fraction_of_upstream():
    torch.manual_seed(0)
    upstream, plus = build_pair(SWIN['T'])
    _, e3va = build_pair(SWIN['T'], dict(type='E3VA'))
    upstream.train()  # full fine-tuning keeps every activation
    x = torch.randn(1, 3, 128, 128)
    full = _saved_bytes(upstream, x)
    ours, e3va_bytes = _saved_bytes(plus, x), _saved_bytes(e3va, x)
    assert ours < 0.2 * full, (ours, full)
    assert ours < 1.25 * e3va_bytes, (ours, e3va_bytes)


def test_no_attention_maps_in_the_graph():
    """No saved tensor is a frozen block's attention map (last two dims
    window**2) or MLP hidden state ((B, H*W, 4C) at a block's resolution)."""
    torch.manual_seed(0)
    upstream, model = build_pair(TINY, E3VA_PLUS_ABLATIONS['E3VAPlus-all'])
    x = torch.randn(1, 3, 64, 64)
    hidden = {(1, (16 // 2**i)**2, 4 * 16 * 2**i) for i in range(4)}

    def frozen_activations(net):
        shapes = []

        def pack(tensor):
            shapes.append(tuple(tensor.shape))
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            _loss(net(x)).backward()
        assert shapes
        return [s for s in shapes if s[-2:] == (49, 49) or s in hidden]

    upstream.train()
    assert frozen_activations(upstream)  # the check sees them
    assert not frozen_activations(model)


def test_frozen_dtype_passes_through():
    """E3VA's ``frozen_dtype`` (half-precision frozen pass) works for every
    addition: outputs close to the fp32 run, fp32 gradients on every
    trainable parameter."""
    torch.manual_seed(0)
    tuning = E3VA_PLUS_ABLATIONS['E3VAPlus-all']
    _, fp32 = build_pair(TINY, tuning)
    _perturb_adapters(fp32)
    half = build(TINY, dict(tuning, frozen_dtype='bf16'))
    half.load_state_dict(fp32.state_dict())
    half.train()
    x = torch.randn(1, 3, 61, 93)
    outs_fp32, outs_half = fp32(x), half(x)
    for o32, o16 in zip(outs_fp32, outs_half):
        assert o16.dtype == torch.float32
        assert (o16 - o32).norm() < 2e-2 * o32.norm()
    _loss(outs_half).backward()
    for name, param in half.named_parameters():
        if param.requires_grad:
            assert param.grad.dtype == torch.float32, name
            assert torch.isfinite(param.grad).all(), name
        else:
            assert param.grad is None, name


def test_tap_input_keeps_half_precision_taps():
    """With ``frozen_dtype``, the ``tap_input`` taps (a half branch plus its
    fp32 LayerNorm-ed input) are kept at half precision too: the same
    saved-for-backward bytes as without ``tap_input`` (fp32 taps, where the
    residual stream is fp32, would add about a tenth here)."""
    tuning = dict(type='E3VAPlus', rank=4, dwconv=False, highway_mix=False,
                  frozen_dtype='bf16')
    x = torch.randn(1, 3, 64, 64)
    plain = _saved_bytes(build(TINY, dict(tuning, tap_input=False)), x)
    tapped = _saved_bytes(build(TINY, dict(tuning, tap_input=True)), x)
    assert tapped < 1.02 * plain, (tapped, plain)


def test_bad_frozen_dtype_raises_naming_e3va_plus():
    with pytest.raises(ValueError, match=r'^E3VAPlus\w*: frozen_dtype'):
        build(TINY, dict(type='E3VAPlus', frozen_dtype='fp8'))


def _backbone_report(model):
    return parameter_report(nn.ModuleDict(dict(backbone=model)))['backbone']


@pytest.mark.parametrize('arch', 'BL')
def test_trainable_budget(arch):
    """Default E3VAPlus: the exact count and at most 2% of the backbone
    (Swin-B; Swin-L is smaller in share)."""
    model = build(SWIN[arch], dict(type='E3VAPlus'))
    report = _backbone_report(model)
    widths = [SWIN[arch]['embed_dims'] * 2**i for i in range(4)]
    ranks = (20, 20, 20, 40)

    def adapter(c, k):  # dual low rank + depthwise conv (weight, bias)
        return 2 * k * (c + c // 4) + 10 * (c // 4)

    expected = sum((2 * depth + 1) * adapter(c, k) + 2 * c for depth, c, k in
                   zip(SWIN[arch]['depths'], widths, ranks))
    assert report['trainable'] == expected
    assert report['trainable_share'] <= 0.02


@functools.lru_cache
def _e3va_swin_b_trainable():
    return _backbone_report(build(SWIN['B'], dict(type='E3VA')))['trainable']


@pytest.mark.parametrize('name', ABLATIONS)
def test_every_ablation_within_budget_on_swin_b(name):
    report = _backbone_report(build(SWIN['B'], E3VA_PLUS_ABLATIONS[name]))
    assert report['trainable'] >= _e3va_swin_b_trainable()
    assert report['trainable_share'] <= 0.02, report


@pytest.mark.parametrize('rank', [0, 2.5, (20, 20, 20), (20, 0, 20, 20)])
def test_bad_rank_raises_naming_it(rank):
    with pytest.raises(ValueError, match='rank'):
        build(TINY, dict(type='E3VAPlus', rank=rank))
