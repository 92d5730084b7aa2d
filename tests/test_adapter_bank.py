"""E3VA's adapter bank (one batched autograd node per stage) and merged
highway against the per-adapter math it replaced (a sequential reference
kept here): outputs and every gradient, tap_dtype's gradient errors,
saved-for-backward bytes, adapter-only checkpoints in the per-adapter key
layout, torch.compile, and 2-process DDP."""
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from mmdet.models.backbones import SwinTransformer
from torch._dynamo.testing import CompileCounter

from conftest import free_port
from mmdet_e3va.models import E3VASwinTransformer, TunedSwinTransformer
from mmdet_e3va.models.adapters import DualLowRankConvAdapter
from mmdet_e3va.models.tuning.base import branch_forward
from mmdet_e3va.models.tuning.e3va import E3VAState
from tools.study.e3va_plus_variants import E3VA_PLUS_ABLATIONS

ROOT = Path(__file__).resolve().parents[1]

TINY = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))
# Odd sizes: the patch embedding, the windows and the first two mergings
# pad (token grids 13x22, 7x11, 4x6, 2x3).
ODD = (51, 87)


def sequential_forward(model, x):
    """E3VA / E3VAPlus as it ran before the bank: per block,
    ``h = h + A_attn(a) + A_mlp(m)`` (then ``h + M(h)`` after a stage's last
    block with ``highway_mix``), stage outputs ``norm_s'(x + h)``, the
    highway merged as ``PM(x + h) - PM(x)``; fp32 frozen pass."""
    tuning = model.tuning
    tap_input = getattr(tuning, 'tap_input', False)
    with torch.no_grad():
        x, hw_shape = model.patch_embed(x)
        if model.use_abs_pos_embed:
            x = x + model.absolute_pos_embed
    highway = 0
    outs = []

    def run(adapter, tap, hw_shape):
        if isinstance(adapter, DualLowRankConvAdapter):
            return adapter(tap, hw_shape)
        return adapter(tap)

    for i, stage in enumerate(model.stages[:tuning.num_stages]):
        for adapters, block in zip(tuning.adapters[i], stage.blocks):
            taps = []

            def tap(branch, branch_input):
                taps.append(branch + branch_input if tap_input else branch)
                return branch

            with torch.no_grad():
                x = branch_forward(block, x, hw_shape, tap, tap)
            highway = (highway + run(adapters['attn'], taps[0], hw_shape) +
                       run(adapters['mlp'], taps[1], hw_shape))
            if 'mix' in adapters:
                highway = highway + adapters['mix'](highway, hw_shape)
        if i in model.out_indices:
            out = tuning.norm_deltas[str(i)](x + highway,
                                             getattr(model, f'norm{i}'))
            outs.append(out.view(-1, *hw_shape, out.shape[-1]).permute(
                0, 3, 1, 2))
        if stage.downsample is not None and i + 1 < tuning.num_stages:
            with torch.no_grad():
                merged, merged_hw = stage.downsample(x, hw_shape)
            highway = stage.downsample(x + highway, hw_shape)[0] - merged
            x, hw_shape = merged, merged_hw
    return outs


def perturbed(swin_kwargs, tuning=dict(type='E3VA'), seed=0):
    """A train-mode tuned Swin with random Swin weights and every trainable
    parameter moved off its (often zero) initialisation."""
    torch.manual_seed(seed)
    upstream = SwinTransformer(**swin_kwargs)
    upstream.init_weights()
    model = TunedSwinTransformer(tuning=tuning, **swin_kwargs)
    model.load_state_dict(upstream.state_dict(), strict=False)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for param in model.tuning.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
    return model.train()


def outputs_and_gradients(model, x, forward=None):
    """The outputs and ``{name: gradient}`` of every parameter that
    receives one, for a fixed random linear loss on the outputs."""
    model.zero_grad(set_to_none=True)
    outs = (model if forward is None else forward)(x)
    gen = torch.Generator().manual_seed(3)
    # The same weights for every image: a batch's loss is its shards' sum.
    loss = sum((o * torch.randn(o.shape[1:], generator=gen)).sum()
               for o in outs)
    loss.backward()
    return [o.detach() for o in outs], {
        n: p.grad.clone() for n, p in model.named_parameters()
        if p.grad is not None
    }


def relative_error(value, reference):
    return ((value - reference).norm() / reference.norm()).item()


def assert_relative(values, references, tolerance):
    assert len(values) == len(references)
    if isinstance(values, dict):
        assert values.keys() == references.keys()
        pairs = [(values[k], references[k], k) for k in references]
    else:
        pairs = [(v, r, i) for i, (v, r) in enumerate(zip(values, references))]
    for value, reference, name in pairs:
        assert value.shape == reference.shape, name
        assert relative_error(value, reference) <= tolerance, (
            name, relative_error(value, reference))


@pytest.mark.parametrize('swin_kwargs, tuning', [
    (dict(TINY), dict(type='E3VA')),
    (dict(TINY, out_indices=(1, 2, 3)), dict(type='E3VA')),
    (dict(TINY, out_indices=(0, 2)), dict(type='E3VA')),
    (dict(TINY, out_indices=(3, )), dict(type='E3VA')),
    (dict(TINY, out_indices=(0, )), dict(type='E3VA')),
    (dict(TINY, window_size=12), dict(type='E3VA', scale=0.5)),
    (dict(TINY, depths=(1, 3, 2, 1)),
     dict(type='E3VA', act_cfg=dict(type='ReLU'))),
    (dict(TINY), dict(type='E3VA',
                      act_cfg=dict(type='GELU', approximate='tanh'))),
] + [(dict(TINY), E3VA_PLUS_ABLATIONS[name]) for name in sorted(
    E3VA_PLUS_ABLATIONS)])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_outputs_and_gradients_equal_the_sequential_math(
        swin_kwargs, tuning, dtype):
    """fp32: to 1e-5 relative, except where E3VAPlus's highway-mix adapter
    reads the highway: there the fp32 rounding of the highway's sum
    (another order in the bank) reaches the scalar gate's gradient through
    cancellation; the sequential math itself is 1.3e-5 away from its fp64
    value on it. fp64: to 1e-10, every method."""
    model = perturbed(swin_kwargs, tuning).to(dtype)
    x = torch.randn(2, 3, *ODD, dtype=dtype)
    outs, grads = outputs_and_gradients(model, x)
    ref_outs, ref_grads = outputs_and_gradients(
        model, x, lambda x: sequential_forward(model, x))
    assert grads.keys() == {
        n for n, p in model.named_parameters() if p.requires_grad}
    tolerance = 1e-10 if dtype == torch.float64 else (
        5e-5 if getattr(model.tuning, 'highway_mix', False) else 1e-5)
    assert_relative(outs, ref_outs, tolerance)
    assert_relative(grads, ref_grads, tolerance)


# Gradient error of kept-precision taps against fp32 taps: relative L2
# over all trainable parameters, and the largest of a single parameter.
# Measured on these weights: bf16 2e-4 (2.5e-3), fp16 2.5e-5 (3e-4), int8
# (a scale per token and 32 channels) 6.5e-4 (7.6e-3); on the study's
# pretrained Swin: tools/analysis/tap_gradient_error.py.
TAP_GRADIENT_ERROR = dict(bf16=(6e-4, 6e-3), fp16=(8e-5, 8e-4),
                          int8=(2e-3, 2e-2))


@pytest.mark.parametrize('tap_dtype', sorted(TAP_GRADIENT_ERROR))
def test_tap_dtype_keeps_outputs_and_bounds_gradient_error(tap_dtype):
    reference = perturbed(TINY)
    model = perturbed(TINY, dict(type='E3VA', tap_dtype=tap_dtype))
    x = torch.randn(2, 3, *ODD)
    ref_outs, ref_grads = outputs_and_gradients(reference, x)
    outs, grads = outputs_and_gradients(model, x)
    for out, ref in zip(outs, ref_outs):  # the forward reads exact taps
        assert torch.equal(out, ref)
    total, largest = TAP_GRADIENT_ERROR[tap_dtype]
    flat = torch.cat([g.flatten() for g in grads.values()])
    ref_flat = torch.cat([g.flatten() for g in ref_grads.values()])
    assert relative_error(flat, ref_flat) < total
    assert max(relative_error(grads[n], ref_grads[n])
               for n in ref_grads) < largest


@pytest.mark.parametrize('tuning', [dict(type='E3VA'),
                                    E3VA_PLUS_ABLATIONS['E3VAPlus-all']])
def test_mixed_precision_runs_the_bank_in_fp32(tuning):
    """Under bf16 autocast (``+amp``) the frozen pass computes in bf16 and
    the bank and the merged highway in fp32: fp32 outputs and gradients
    close to the fp32 run's."""
    model = perturbed(TINY, tuning)
    x = torch.randn(2, 3, *ODD)
    ref_outs, ref_grads = outputs_and_gradients(model, x)

    def autocast_forward(x):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return model(x)

    outs, grads = outputs_and_gradients(model, x, autocast_forward)
    assert all(o.dtype == torch.float32 for o in outs)
    assert_relative(outs, ref_outs, 2e-2)
    flat = torch.cat([g.flatten() for g in grads.values()])
    ref_flat = torch.cat([g.flatten() for g in ref_grads.values()])
    assert torch.cosine_similarity(flat, ref_flat, dim=0) > 0.999


def saved_storages(model, x):
    """``{storage pointer: (bytes, dtype, shape)}`` of what autograd saves
    for backward in ``model``'s forward on ``x`` (parameters excluded)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(tensor):
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in params:
            saved[ptr] = (tensor.untyped_storage().nbytes(), tensor.dtype,
                          tuple(tensor.shape))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return saved


@pytest.mark.parametrize('tap_dtype', [None, 'bf16', 'int8'])
def test_saved_for_backward_is_the_taps_and_one_stream_per_stage(
        tap_dtype):
    """Per stage: the taps ``(2 * depth, B*H*W, C)`` at ``tap_dtype`` (int8:
    an fp32 scale per token and 32 channels, or per token where the width
    is 16) and ``x + h`` once (the output norm and the merging keep the
    same tensor), plus LayerNorm statistics, the stacked adapter weights
    and the output norms' affine sums; nothing of the adapters'
    internals."""
    model = perturbed(TINY, dict(type='E3VA', tap_dtype=tap_dtype))
    saved = saved_storages(model, torch.randn(2, 3, 64, 64))
    tokens = [2 * (16 // 2**i)**2 for i in range(4)]
    widths = [16 * 2**i for i in range(4)]
    tap_bytes = [dict(bf16=2, int8=1 + 4 / min(c, 32)).get(tap_dtype, 4)
                 for c in widths]
    taps = sum(2 * depth * n * c * b for depth, n, c, b in zip(
        TINY['depths'], tokens, widths, tap_bytes))
    streams = sum(4 * n * c for n, c in zip(tokens, widths))
    # LayerNorm mean and rstd per token of the output norms and of the
    # three merged grids (a quarter of the tokens).
    stats = sum(2 * 4 * n for n in tokens) + sum(2 * 4 * n // 4
                                                 for n in tokens[:3])
    weights = 4 * sum(p.numel() for p in model.tuning.adapters.parameters())
    affine = sum(2 * 4 * c for c in widths)
    assert sum(b for b, _, _ in saved.values()) == (
        taps + streams + stats + weights + affine)


def test_int8_taps_of_wide_stages_use_channel_groups():
    """Width a multiple of 32: int8 taps with a scale per 32 channels."""
    model = perturbed(dict(TINY, embed_dims=32, num_heads=(1, 2, 4, 8)),
                      dict(type='E3VA', tap_dtype='int8'))
    saved = saved_storages(model, torch.randn(1, 3, 64, 64))
    int8 = [shape for _, dtype, shape in saved.values()
            if dtype == torch.int8]
    assert sorted(s[-2:] for s in int8) == sorted(
        (32 * 2**i // 32, 32) for i in range(4))


def test_frozen_dtype_taps_are_kept_at_half_precision():
    """Under ``frozen_dtype='bf16'`` the taps are saved as the frozen pass
    wrote them (bf16), no fp32 copy of them."""
    model = perturbed(TINY, dict(type='E3VA', frozen_dtype='bf16'))
    saved = saved_storages(model, torch.randn(2, 3, 64, 64))
    tap_shapes = {(2 * depth, 2 * (16 // 2**i)**2, 16 * 2**i)
                  for i, depth in enumerate(TINY['depths'])}
    dtypes = {shape: dtype for _, dtype, shape in saved.values()
              if shape in tap_shapes}
    assert dtypes == {shape: torch.bfloat16 for shape in tap_shapes}


def per_adapter_checkpoint(swin_kwargs, seed):
    """An adapter-only state dict in the per-adapter key layout of the
    checkpoints written before the bank: ``tuning.adapters.<stage>.
    <block>.<attn|mlp>.<down1|down2|up1|up2>.weight`` and the norm
    deltas, random values."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for stage, depth in enumerate(swin_kwargs['depths']):
        width = swin_kwargs['embed_dims'] * 2**stage
        k, d = 20, width // 4
        shapes = dict(down1=(k, width), down2=(d, k), up1=(k, d),
                      up2=(width, k))
        for block in range(depth):
            for branch in ('attn', 'mlp'):
                for layer, shape in shapes.items():
                    state[f'tuning.adapters.{stage}.{block}.{branch}.'
                          f'{layer}.weight'] = 0.2 * torch.randn(
                              shape, generator=gen)
        for name in ('weight', 'bias'):
            state[f'tuning.norm_deltas.{stage}.{name}'] = 0.1 * torch.randn(
                width, generator=gen)
    return state


def test_per_adapter_checkpoints_load_and_give_the_same_outputs():
    torch.manual_seed(0)
    upstream = SwinTransformer(**TINY)
    upstream.init_weights()
    model = E3VASwinTransformer(**TINY)
    adapters = per_adapter_checkpoint(TINY, seed=5)
    assert sorted(k for k in model.state_dict() if k.startswith('tuning.')) \
        == sorted(adapters)
    model.load_state_dict(dict(upstream.state_dict(), **adapters))
    model.train()
    x = torch.randn(1, 3, *ODD)
    outs, grads = outputs_and_gradients(model, x)
    ref_outs, ref_grads = outputs_and_gradients(
        model, x, lambda x: sequential_forward(model, x))
    assert_relative(outs, ref_outs, 1e-5)
    assert_relative(grads, ref_grads, 1e-5)


@pytest.mark.parametrize('kwargs, option', [
    (dict(tap_dtype='fp8'), 'tap_dtype'),
    (dict(tap_dtype=torch.int8), 'tap_dtype'),
    (dict(adapter_act_cfg=dict(type='Sigmoid')), 'act_cfg'),
])
def test_bad_options_raise_naming_the_option(kwargs, option):
    with pytest.raises(ValueError, match=option):
        E3VASwinTransformer(**TINY, **kwargs)


COMPILE_SWIN = dict(embed_dims=16, depths=(2, 2), num_heads=(1, 2),
                    strides=(4, 2), out_indices=(0, 1))


def test_backbone_compiles_in_one_graph():
    """The whole E3VA backbone (frozen pass, taps, adapter banks, merged
    highway) under ``torch.compile(fullgraph=True)`` (dynamo, 'eager'
    backend): no graph break; forward and backward equal eager mode, int8
    taps included. Static shapes: dynamo needs minutes to trace the
    upstream Swin blocks with symbolic sizes, see the next test."""
    model = perturbed(COMPILE_SWIN, dict(type='E3VA', tap_dtype='int8'))
    compiled = torch.compile(model, backend='eager', fullgraph=True)
    x = torch.randn(2, 3, *ODD)
    outs, grads = outputs_and_gradients(model, x, compiled)
    ref_outs, ref_grads = outputs_and_gradients(model, x)
    assert_relative(outs, ref_outs, 1e-6)
    assert_relative(grads, ref_grads, 1e-6)


def test_highway_compiles_once_for_dynamic_sizes():
    """A stage's highway (adapter bank, output norm, merged highway into
    the next stage) under ``torch.compile(fullgraph=True, dynamic=True)``:
    one graph for two odd sizes, equal to eager mode."""
    model = perturbed(COMPILE_SWIN, dict(type='E3VAPlus', tap_dtype='int8'))
    tuning = model.tuning

    def highway(tokens, taps, hw_shape):
        stream = tuning._stage_stream(0, tokens, None, taps, hw_shape)
        state = E3VAState(tokens, stream=stream)
        merged, _ = tuning.downsample(model.stages[0], state, hw_shape)
        return [tuning.stage_output(model, 0, state, hw_shape),
                merged.highway]

    counter = CompileCounter()
    compiled = torch.compile(highway, backend=counter, fullgraph=True,
                             dynamic=True)
    for hw_shape in ((15, 23), (11, 19)):
        tokens = torch.randn(2, hw_shape[0] * hw_shape[1], 16)
        taps = torch.randn(4, *tokens.shape)
        outs, grads = outputs_and_gradients(
            model, (tokens, taps), lambda args: compiled(*args, hw_shape))
        ref_outs, ref_grads = outputs_and_gradients(
            model, (tokens, taps), lambda args: highway(*args, hw_shape))
        assert_relative(outs, ref_outs, 1e-6)
        assert_relative(grads, ref_grads, 1e-6)
    assert counter.frame_count == 1


def _ddp_worker(inputs_path, result_path):
    """One torchrun process: its shard of the batch through DDP."""
    dist.init_process_group('gloo', timeout=timedelta(seconds=120))
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    model = perturbed(dict(TINY, out_indices=(0, 1)))
    ddp = nn.parallel.DistributedDataParallel(model)
    x = torch.load(inputs_path, weights_only=True)
    shard = x.chunk(world_size)[rank]
    _, grads = outputs_and_gradients(ddp.module, shard, ddp)
    if rank == 0:
        torch.save(grads, result_path)
    # Leave without interpreter teardown: freeing the DDP reducer joins
    # gloo's worker threads while holding the GIL, which a worker still
    # freeing an allreduce needs (a deadlock seen under load, torch 2.13).
    os._exit(0)


def test_two_process_ddp_equals_one_process(tmp_path):
    """DDP averages the two shards' gradients: with a loss that sums over
    the batch, that is half the one-process gradient of the whole batch.
    Every trainable parameter takes part (no unused parameters). The two
    processes are real torchrun ones on 127.0.0.1, as tools/dist_train.sh
    starts them."""
    x = torch.randn(2, 3, *ODD)
    torch.save(x, tmp_path / 'x.pt')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(ROOT / 'tests'), os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         '--master_addr=127.0.0.1', f'--master_port={free_port()}', __file__,
         str(tmp_path / 'x.pt'), str(tmp_path / 'grads.pt')],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    ddp_grads = torch.load(tmp_path / 'grads.pt', weights_only=True)
    model = perturbed(dict(TINY, out_indices=(0, 1)))
    _, grads = outputs_and_gradients(model, x)
    assert_relative(ddp_grads, {n: g / 2 for n, g in grads.items()}, 1e-5)


def test_study_settings_name_tap_dtype_only_when_set():
    """``tap_dtype`` came after the committed study records: at its default
    the study's settings (and hashes) leave it out, set it is named."""
    from tools.study.mini_study import at_study_width
    assert 'tap_dtype' not in at_study_width(dict(type='E3VA'))
    assert 'tap_dtype' not in at_study_width(dict(type='E3VAPlus',
                                                  tap_dtype=None))
    assert at_study_width(dict(type='E3VA',
                               tap_dtype='int8'))['tap_dtype'] == 'int8'


def test_bank_dispatches_fewer_ops_than_the_per_adapter_math():
    """Aten ops of forward + backward (and the test's loss) above the
    frozen forward's (views excluded): the banks and merged highway need
    under half of the per-adapter path's (measured with Swin-T's depths:
    192 against 424)."""
    from tools.benchmark.op_count import AtenOpCounter
    swin_kwargs = dict(TINY, depths=(2, 2, 6, 2))  # Swin-T's depths
    model = perturbed(swin_kwargs)
    frozen = TunedSwinTransformer(tuning=dict(type='Frozen'), **swin_kwargs)
    x = torch.randn(2, 3, 64, 64)

    def ops(forward):
        with AtenOpCounter() as counter:
            outputs_and_gradients(model, x, forward)
        return counter.total

    with AtenOpCounter() as counter:
        frozen(x)
    frozen_ops = counter.total
    bank = ops(model) - frozen_ops
    per_adapter = ops(lambda x: sequential_forward(model, x)) - frozen_ops
    assert bank < 0.5 * per_adapter, (bank, per_adapter)


if __name__ == '__main__':
    _ddp_worker(*sys.argv[1:3])
