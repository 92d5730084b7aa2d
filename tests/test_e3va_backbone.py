"""E3VASwinTransformer against upstream SwinTransformer: shapes, values,
gradients, saved-for-backward bytes, trainable budget, options."""
import pytest
import torch
from mmdet.models.backbones import SwinTransformer
from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from mmdet_e3va.models import E3VASwinTransformer
from mmdet_e3va.models.backbones.tuned_swin import TUNING_PREFIX

SWIN = {
    'T': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    'S': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'B': dict(embed_dims=128, depths=(2, 2, 18, 2),
              num_heads=(4, 8, 16, 32)),
    'L': dict(embed_dims=192, depths=(2, 2, 18, 2),
              num_heads=(6, 12, 24, 48)),
}
TINY = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


def build_pair(swin_kwargs, **e3va_kwargs):
    """Upstream Swin (randomly initialised, eval) and an E3VA Swin holding
    the same weights (train mode)."""
    upstream = SwinTransformer(**swin_kwargs)
    upstream.init_weights()
    upstream.eval()
    e3va = E3VASwinTransformer(**swin_kwargs, **e3va_kwargs)
    missing, unexpected = e3va.load_state_dict(upstream.state_dict(),
                                               strict=False)
    assert not unexpected
    assert missing and all(k.startswith(TUNING_PREFIX) for k in missing)
    e3va.train()
    return upstream, e3va


def test_registered_in_mmdet_and_mmseg():
    assert MMDET_MODELS.get('E3VASwinTransformer') is E3VASwinTransformer
    assert MMSEG_MODELS.get('E3VASwinTransformer') is E3VASwinTransformer


@pytest.mark.parametrize('arch', 'TSBL')
def test_matches_upstream_swin_at_init(arch):
    torch.manual_seed(0)
    upstream, e3va = build_pair(SWIN[arch])
    x = torch.randn(1, 3, 61, 93)  # odd sizes: every stage pads
    with torch.no_grad():
        expected = upstream(x)
    outs = e3va(x)
    assert [o.shape for o in outs] == [e.shape for e in expected]
    for out, exp in zip(outs, expected):
        torch.testing.assert_close(out, exp, rtol=0, atol=1e-5)


@pytest.mark.parametrize('swin_kwargs', [
    dict(TINY, window_size=12, out_indices=(0, 1, 2, 3)),
    dict(TINY, out_indices=(1, 2, 3)),
    dict(TINY, out_indices=(0, 2)),
    dict(TINY, use_abs_pos_embed=True, pretrain_img_size=64),
])
def test_matches_upstream_for_other_options(swin_kwargs):
    torch.manual_seed(0)
    upstream, e3va = build_pair(swin_kwargs)
    size = 64 if swin_kwargs.get('use_abs_pos_embed') else 77
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = upstream(x)
    outs = e3va(x)
    assert len(outs) == len(swin_kwargs.get('out_indices', range(4)))
    for out, exp in zip(outs, expected):
        torch.testing.assert_close(out, exp, rtol=0, atol=1e-5)


def _loss(outs):
    gen = torch.Generator().manual_seed(1)
    return sum((o * torch.randn(o.shape, generator=gen)).sum() for o in outs)


def check_gradients_reach_only_and_all_trainable(model, x, steps):
    """Only tuning parameters are trainable and receive gradients (finite),
    frozen ones none; after ``steps`` SGD steps (zero starts hold some
    gradients at zero at first) every trainable parameter sees one."""
    _loss(model(x)).backward()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert frozen and trainable
    assert all(n.startswith(TUNING_PREFIX) for n in trainable)
    assert not [n for n in frozen if model.get_parameter(n).grad is not None]
    for name, param in trainable.items():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
    optimizer = torch.optim.SGD(trainable.values(), lr=0.1)
    for _ in range(steps):
        optimizer.step()
        model.zero_grad()
        _loss(model(x)).backward()
    zero = [n for n, p in trainable.items() if not p.grad.abs().sum() > 0]
    assert not zero


@pytest.mark.parametrize('out_indices', [(0, 1, 2, 3), (1, 2, 3), (0, 1)])
def test_gradients_reach_only_and_all_trainable(out_indices):
    torch.manual_seed(0)
    _, model = build_pair(dict(TINY, out_indices=out_indices))
    # At the zero start only U2 and the norm deltas see a gradient; after
    # one step every adapter parameter does.
    check_gradients_reach_only_and_all_trainable(
        model, torch.randn(2, 3, 64, 64), steps=1)


def _saved_bytes(model, x):
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _loss(model(x)).backward()
    return total


def test_saved_tensors_are_a_small_fraction_of_upstream():
    torch.manual_seed(0)
    upstream, e3va = build_pair(SWIN['T'])
    upstream.train()  # full fine-tuning keeps every activation
    x = torch.randn(1, 3, 128, 128)
    full, ours = _saved_bytes(upstream, x), _saved_bytes(e3va, x)
    assert ours < 0.2 * full, (ours, full)


# E3VA_SPEC budget check: Swin-B 1.20 M, Swin-L 1.80 M (paper: 1.20, 1.79).
@pytest.mark.parametrize('arch, spec_millions', [('B', 1.20), ('L', 1.80)])
def test_trainable_budget(arch, spec_millions):
    model = E3VASwinTransformer(**SWIN[arch])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    widths = [SWIN[arch]['embed_dims'] * 2**i for i in range(4)]
    k = 20
    adapters = sum(depth * 2 * 2 * k * (c + c // 4)
                   for depth, c in zip(SWIN[arch]['depths'], widths))
    deltas = sum(2 * c for c in widths)
    assert trainable == adapters + deltas
    assert trainable / total <= 0.015
    assert abs(trainable / 1e6 - spec_millions) < 0.015


def test_frozen_modules_stay_in_eval_mode():
    model = E3VASwinTransformer(**TINY)
    model.train()
    assert not model.stages.training and not model.patch_embed.training
    assert model.tuning.adapters.training
    model = E3VASwinTransformer(**TINY, frozen_train_mode=True)
    model.train()
    assert model.stages.training


@pytest.mark.parametrize('kwargs, option', [
    (dict(rank=0), 'rank'),
    (dict(rank=-3), 'rank'),
    (dict(rank=2.5), 'rank'),
    (dict(bottleneck_ratio=0), 'bottleneck_ratio'),
    (dict(out_indices=(0, 4)), 'out_indices'),
    (dict(out_indices=()), 'out_indices'),
    (dict(norm_cfg=dict(type='BN')), 'norm_cfg'),
])
def test_bad_options_raise_naming_the_option(kwargs, option):
    with pytest.raises(ValueError, match=option):
        E3VASwinTransformer(**dict(TINY, **kwargs))
