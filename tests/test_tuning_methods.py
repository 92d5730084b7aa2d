"""Every tuning method, with its own defaults and with the E3VA paper's
budget options, on Swin-T-shaped arguments: exact trainable parameters
(counted analytically here), one training step, identity at
initialisation, LoRA merging."""
import pytest
import torch
from mmdet.models.backbones import SwinTransformer

from mmdet_e3va.models import TunedSwinTransformer
from mmdet_e3va.registry import TUNINGS

SWIN_T = dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
WIDTHS = [96, 192, 384, 768]
DEPTHS = SWIN_T['depths']
BLOCKS = sum(DEPTHS)
SUM_DC = sum(d * c for d, c in zip(DEPTHS, WIDTHS))  # sum over blocks of C
MERGE_IN = sum(4 * c for c in WIDTHS[:3])  # PatchMerging norms' widths
REL_POS = (2 * 7 - 1)**2
HEADS = SWIN_T['num_heads']


def _swin_total():
    return sum(p.numel() for p in SwinTransformer(**SWIN_T).parameters())


def _partial1():
    c, heads = WIDTHS[-1], SWIN_T['num_heads'][-1]
    return 12 * c * c + 13 * c + REL_POS * heads


def _lorand(c, n=2, r=8):
    d = c // 2
    return 2 * n * r * (c + d) + n * r * r + c + d


def _mona(c, d=64):
    return 133 * c + 64 + d * (9 + 25 + 49) + 3 * d + d * d + d


# Trainable backbone parameters by each method's definition.
EXPECTED = {
    'Full': _swin_total,
    'Frozen': lambda: 0,
    # per block: norm1, qkv, proj, norm2, fc1, fc2 biases = 11C; patch
    # embedding conv + norm; PatchMerging norms; output norms.
    'BitFit': lambda: 11 * SUM_DC + 2 * 96 + MERGE_IN + sum(WIDTHS),
    'LNTune': lambda: 4 * SUM_DC + 2 * 96 + 2 * MERGE_IN + 2 * sum(WIDTHS),
    'Partial': _partial1,
    'Adapter': lambda: 2 * (129 * SUM_DC + 64 * BLOCKS),  # 2 x (2Cd+C+d)
    'AdaptFormer': lambda: 129 * SUM_DC + 64 * BLOCKS,  # 1 x (2Cd+C+d)
    'LoRA': lambda: 8 * (4 + 2) * SUM_DC,  # r(C+3C) + r(C+C)
    'LoRand': lambda: sum(2 * d * _lorand(c) for d, c in zip(DEPTHS, WIDTHS)),
    'Mona': lambda: sum(2 * d * _mona(c) for d, c in zip(DEPTHS, WIDTHS)),
    # 2 adapters x 2k(C + C/4) per block, affine deltas per output norm.
    'E3VA': lambda: 2 * 2 * 20 * (SUM_DC + SUM_DC // 4) + 2 * sum(WIDTHS),
}


# The E3VA paper's budgets: the options its configs set, and the count.
PAPER_BUDGETS = {
    # every name containing 'bias': + the relative position bias tables
    'BitFit': (dict(position_bias_tables=True), lambda: EXPECTED['BitFit']()
               + REL_POS * sum(d * h for d, h in zip(DEPTHS, HEADS))),
    # q and v parts of the fused qkv: 2 x (rC + Cr)
    'LoRA': (dict(rank=64, alpha=1, targets=('q', 'v')),
             lambda: 64 * 4 * SUM_DC),
    # beside the attention and beside the MLP: 2 x (2Cd+C+d)
    'AdaptFormer': (dict(branches=('attn', 'mlp')),
                    lambda: 2 * (129 * SUM_DC + 64 * BLOCKS)),
}
CASES = {method: (dict(type=method), count)
         for method, count in EXPECTED.items()}
CASES.update({f'{method}-paper': (dict(type=method, **options), count)
              for method, (options, count) in PAPER_BUDGETS.items()})


def build(tuning, **kwargs):
    torch.manual_seed(0)
    if isinstance(tuning, str):
        tuning = dict(type=tuning)
    model = TunedSwinTransformer(tuning=tuning, **SWIN_T, **kwargs)
    model.init_weights()
    return model


# Registered methods with a test of their own (a file, or a test here for a
# method that needs options).
TESTED_ELSEWHERE = {
    'E3VAPlus': 'tests/test_e3va_plus.py',
    'FullExcept': 'test_full_except_keeps_the_named_parts_frozen'}


def test_every_registered_method_is_covered():
    assert set(TUNINGS.module_dict) == set(EXPECTED) | set(TESTED_ELSEWHERE)


@pytest.mark.parametrize('case', sorted(CASES))
def test_trainable_parameters_and_one_step(case):
    tuning, count = CASES[case]
    model = build(tuning)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert sum(p.numel() for p in trainable.values()) == count()
    model.train()
    x = torch.randn(2, 3, 64, 64)
    loss = sum(o.square().mean() for o in model(x))
    assert torch.isfinite(loss)
    if not trainable:
        assert not loss.requires_grad
        return
    before = {n: p.detach().clone() for n, p in trainable.items()}
    loss.backward()
    assert all(p.grad is None for n, p in model.named_parameters()
               if n not in trainable)
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in trainable.values())
    torch.optim.AdamW(trainable.values(), lr=1e-3).step()
    moved = [n for n, p in trainable.items() if not torch.equal(p, before[n])]
    assert moved


# BitFit-paper adds no module: BitFit's identity covers it.
IDENTITY_CASES = [c for c in sorted(CASES) if c != 'BitFit-paper'
                  and TUNINGS.get(CASES[c][0]['type']).identity_at_init]


def test_mona_is_the_only_method_without_identity_start():
    assert set(CASES) - set(IDENTITY_CASES) == {'Mona', 'BitFit-paper'}


@pytest.mark.parametrize('case', IDENTITY_CASES)
def test_identity_at_initialisation(case):
    upstream = SwinTransformer(**SWIN_T)
    upstream.init_weights()
    upstream.eval()
    model = build(CASES[case][0])
    model.load_state_dict(upstream.state_dict(), strict=False)
    model.eval()
    x = torch.randn(1, 3, 61, 75)
    with torch.no_grad():
        for out, exp in zip(model(x), upstream(x)):
            torch.testing.assert_close(out, exp, rtol=0, atol=1e-5)


@pytest.mark.parametrize('case', ['LoRA', 'LoRA-paper'])
def test_lora_merged_equals_unmerged(case):
    tuning = CASES[case][0]
    model = build(tuning)
    for up in model.tuning.lora_up.values():
        torch.nn.init.normal_(up.weight, std=0.05)
    model.eval()
    qkv = model.stages[0].blocks[0].attn.w_msa.qkv.weight
    before = qkv.detach().clone()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        unmerged = model(x)
        model.tuning.merge(model)
        merged = model(x)
    assert any((u - m).abs().max() > 0 for u, m in zip(
        unmerged, build(tuning).eval()(x)))  # the update is not trivial
    for u, m in zip(unmerged, merged):
        torch.testing.assert_close(m, u, rtol=0, atol=1e-5)
    # Only the targeted parts of the fused qkv changed.
    changed = [not torch.equal(a, b)
               for a, b in zip(before.chunk(3), qkv.detach().chunk(3))]
    targets = tuning.get('targets', ('qkv', ))
    assert changed == [('qkv' in targets or p in targets) for p in 'qkv']


@pytest.mark.parametrize('tuning, match', [
    (dict(type='LoRA', targets=('qkv', 'q')), 'targets'),
    (dict(type='LoRA', targets=('o', )), 'targets'),
    (dict(type='LoRA', targets=()), 'targets'),
    (dict(type='LoRA', rank=0), 'rank'),
    (dict(type='AdaptFormer', branches=('ffn', )), 'branches'),
])
def test_bad_options_are_named(tuning, match):
    with pytest.raises(ValueError, match=match):
        TUNINGS.build(tuning)


def test_frozen_stages_is_refused():
    with pytest.raises(ValueError, match='frozen_stages'):
        TunedSwinTransformer(tuning=dict(type='Full'), frozen_stages=1,
                             **SWIN_T)


def test_frozen_backbone_stays_in_eval_mode():
    model = build('Frozen').train()
    assert not model.stages.training and not model.patch_embed.training
    model = build('Full').train()
    assert model.stages.training


def test_full_except_keeps_the_named_parts_frozen():
    """FullExcept: the named prefixes get no gradient, every other Swin
    parameter does; prefixes matching nothing or not a sequence of
    prefixes are named errors."""
    model = build(dict(type='FullExcept', frozen_prefixes=('patch_embed.', )))
    model.train()
    sum(o.sum() for o in model(torch.randn(1, 3, 64, 64))).backward()
    for name, param in model.named_parameters():
        if name.startswith('patch_embed.'):
            assert not param.requires_grad and param.grad is None, name
        else:
            assert param.requires_grad and param.grad is not None, name
    patch_embed = sum(p.numel() for p in model.patch_embed.parameters())
    assert (sum(p.numel() for p in model.parameters() if p.requires_grad)
            == _swin_total() - patch_embed)
    with pytest.raises(ValueError, match=r"frozen_prefixes \['stem\.'\]"):
        build(dict(type='FullExcept', frozen_prefixes=('stem.', )))
    for bad in ('patch_embed.', (), ('', )):
        with pytest.raises(ValueError, match='frozen_prefixes'):
            TUNINGS.build(dict(type='FullExcept', frozen_prefixes=bad))
