"""A Swin stage's E3VA adapters run together: the adapter bank.

E3VA's adapters read only graph-free backbone activations (the taps), so
the ``A = 2 * depth`` adapters of a stage need not run one by one inside
the blocks. The frozen pass writes each tap into a per-stage buffer
``(A, B, H*W, C)``; at the end of the stage one autograd function runs the
dual low-rank projections as batched GEMMs over the adapters' stacked
weights and the up-projection plus the sum over adapters as one GEMM over
their concatenated rank-k features. It saves only the taps (at
``tap_dtype``) and the weights, and recomputes the small internals in
backward. The adapters stay modules with their own parameters: state-dict
keys, the optimizer and DDP see what they saw before.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer

from ..adapters import DualLowRankConvAdapter

TAP_DTYPES = dict(bf16=torch.bfloat16, fp16=torch.float16, int8=torch.int8)
# int8 taps: one scale per token and group of this many channels (every
# channel when the width is not a multiple).
INT8_GROUP = 32


def parse_tap_dtype(name, owner):
    """``None`` or ``name`` itself when it is one of :data:`TAP_DTYPES`;
    ``ValueError`` naming ``owner``'s ``tap_dtype`` option otherwise."""
    if name is not None and name not in TAP_DTYPES:
        raise ValueError(f'{owner}: tap_dtype must be None or one of '
                         f'{sorted(TAP_DTYPES)}, got {name!r}')
    return name


def bank_activation(act_cfg, owner):
    """The bank's name for the activation of ``act_cfg`` (GELU, exact or
    tanh, or ReLU: the bank recomputes its derivative in backward);
    ``ValueError`` naming ``owner``'s ``act_cfg`` otherwise."""
    act = build_activation_layer(act_cfg)
    if isinstance(act, nn.GELU):
        return f'gelu_{act.approximate}'
    if isinstance(act, nn.ReLU):
        return 'relu'
    raise ValueError(f'{owner}: act_cfg must be GELU or ReLU (the adapter '
                     f'bank differentiates it), got {act_cfg!r}')


def _activate(z, activation):
    if activation == 'relu':
        return F.relu(z)
    return F.gelu(z, approximate=activation[len('gelu_'):])


def _activation_backward(grad, z, activation):
    if activation == 'relu':
        return torch.ops.aten.threshold_backward(grad, z, 0)
    return torch.ops.aten.gelu_backward(
        grad, z, approximate=activation[len('gelu_'):])


def _store_taps(taps, exact, tap_dtype):
    """What backward keeps of ``taps`` (``(A, N, C)``, the frozen pass's
    dtype; ``exact`` their values in the compute dtype): ``(stored,
    scales)``. ``None``: the buffer itself; ``'bf16'`` / ``'fp16'``: a
    cast; ``'int8'``: rounded to ``[-127, 127]`` with a scale (compute
    dtype) per token and group of :data:`INT8_GROUP` channels
    (``scales``: ``(A, N, C / group, 1)``)."""
    if tap_dtype is None:
        return taps, None
    if tap_dtype != 'int8':
        dtype = TAP_DTYPES[tap_dtype]
        return (taps if taps.dtype == dtype else exact.to(dtype)), None
    groups = _int8_groups(exact)
    amax = groups.abs().amax(-1, keepdim=True).clamp_min(1e-30)
    stored = (groups * (127 / amax)).round_().to(torch.int8)
    return stored, amax / 127


def _int8_groups(taps):
    width = taps.shape[-1]
    group = INT8_GROUP if width % INT8_GROUP == 0 else width
    return taps.unflatten(-1, (width // group, group))


def _load_taps(stored, scales, dtype):
    """The ``(A, N, C)`` taps in ``dtype`` back from :func:`_store_taps`."""
    if scales is None:
        return stored.to(dtype)
    return (stored * scales).flatten(-2)  # int8 * scales: the scales' dtype


class AdapterBankFunction(torch.autograd.Function):
    """``base + sum_a U2_a(U1_a(act(y_a)))`` with ``y_a = z_a + dw_a(z_a)``
    (no ``dw``: ``y_a = z_a``) and ``z_a = D2_a(D1_a(t_a))``, over the
    ``A`` adapters of a stage, in the weights' dtype (fp32; autocast
    off).

    Shapes (``N = B*H*W`` tokens): ``base`` ``(N, C)`` or None; ``taps``
    ``(A, B, H*W, C)``, graph-free; ``down1`` ``(A, k, C)``, ``down2``
    ``(A, d, k)``, ``up1`` ``(A, k, d)`` (scales and gates folded in),
    ``up2`` ``(A, C, k)``;
    ``dw_weight`` ``(A*d, 1, K, K)`` and ``dw_bias`` ``(A*d, )`` or None:
    the depthwise convolutions on the ``(H, W)`` grid; returns ``(N, C)``.

    Internals are computed feature-major, ``(A, features, N)``, so the
    final GEMM reads the adapters' rank-k features as one ``(A*k, N)``
    matrix without a copy, against the ``U2`` side by side, ``(C, A*k)``.
    Backward recomputes the internals from the stored taps (see
    :func:`_store_taps`) and returns every weight gradient contiguous in
    its parameter's layout (the optimizer's gradients are not copied
    again).
    """

    @staticmethod
    def forward(ctx, base, taps, down1, down2, up1, up2, dw_weight, dw_bias,
                hw_shape, tap_dtype, activation):
        with torch.autocast(taps.device.type, enabled=False):
            flat = taps.flatten(1, 2)
            exact = flat.to(down1.dtype)
            *_, z3 = _internals(exact, down1, down2, up1, dw_weight,
                                dw_bias, hw_shape, activation)
            features = z3.flatten(0, 1).t()
            up2_side_by_side = up2.transpose(0, 1).flatten(1)
            out = (torch.mm(features, up2_side_by_side.t())
                   if base is None else
                   torch.addmm(base, features, up2_side_by_side.t()))
            stored, scales = _store_taps(flat, exact, tap_dtype)
        ctx.save_for_backward(stored, scales, down1, down2, up1,
                              up2_side_by_side, dw_weight, dw_bias)
        ctx.hw_shape = hw_shape
        ctx.activation = activation
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (stored, scales, down1, down2, up1, up2_side_by_side, dw_weight,
         dw_bias) = ctx.saved_tensors
        needs = ctx.needs_input_grad
        with torch.autocast(grad_out.device.type, enabled=False):
            grad_out = grad_out.to(down1.dtype)
            taps = _load_taps(stored, scales, down1.dtype)
            z1, z2, y, g, z3 = _internals(taps, down1, down2, up1, dw_weight,
                                          dw_bias, ctx.hw_shape,
                                          ctx.activation)
            num, rank = z3.shape[:2]
            d_up2 = torch.mm(grad_out.t(), z3.flatten(0, 1).t()).view(
                -1, num, rank).transpose(0, 1).contiguous()
            d_z3 = torch.mm(up2_side_by_side.t(),
                            grad_out.t()).view(num, rank, -1)
            d_up1 = torch.bmm(d_z3, g.transpose(1, 2))
            d_y = _activation_backward(
                torch.bmm(up1.transpose(1, 2), d_z3), y, ctx.activation)
            d_dw_weight = d_dw_bias = None
            d_z2 = d_y
            if dw_weight is not None:
                d_grid, d_dw_weight, d_dw_bias = (
                    torch.ops.aten.convolution_backward(
                        _grid(d_y, ctx.hw_shape), _grid(z2, ctx.hw_shape),
                        dw_weight, [dw_weight.shape[0]], [1, 1],
                        [dw_weight.shape[-1] // 2] * 2, [1, 1], False, [0, 0],
                        dw_weight.shape[0], [True, needs[6], needs[7]]))
                d_z2 = _add_grid(d_y, d_grid)
            d_down2 = torch.bmm(d_z2, z1.transpose(1, 2))
            d_down1 = torch.bmm(
                torch.bmm(down2.transpose(1, 2), d_z2), taps)
        return (grad_out if needs[0] else None, None, d_down1, d_down2,
                d_up1, d_up2, d_dw_weight, d_dw_bias, None, None, None)


def _internals(taps, down1, down2, up1, dw_weight, dw_bias, hw_shape,
               activation):
    """The bank's intermediate features, ``(A, features, N)`` each:
    ``z1 = D1 t`` (k), ``z2 = D2 z1`` (d), ``y = z2 + dw(z2)`` (d),
    ``g = act(y)`` (d), ``z3 = U1 g`` (k); ``taps`` is ``(A, N, C)`` in
    the weights' dtype."""
    z1 = torch.bmm(down1, taps.transpose(1, 2))
    z2 = torch.bmm(down2, z1)
    y = z2
    if dw_weight is not None:
        filtered = F.conv2d(_grid(z2, hw_shape), dw_weight, dw_bias,
                            padding=dw_weight.shape[-1] // 2,
                            groups=dw_weight.shape[0])
        y = _add_grid(z2, filtered)
    g = _activate(y, activation)
    return z1, z2, y, g, torch.bmm(up1, g)


def _grid(features, hw_shape):
    """``(A, d, B*H*W)`` -> a ``(B, A*d, H, W)`` view (the depthwise
    convolutions' layout)."""
    num, dims, tokens = features.shape
    height, width = hw_shape
    return features.view(num, dims, tokens // (height * width), height,
                         width).permute(2, 0, 1, 3, 4).flatten(1, 2)


def _add_grid(features, grid):
    """``features`` ``(A, d, B*H*W)`` plus ``grid`` ``(B, A*d, H, W)``
    read back in the features' layout (:func:`_grid`'s inverse)."""
    num, dims, tokens = features.shape
    batch = grid.shape[0]
    return (features.view(num, dims, batch, tokens // batch) +
            grid.unflatten(1, (num, dims)).flatten(3).permute(
                1, 2, 0, 3)).flatten(2)


def _depthwise_kernel(adapters):
    """The stacked depthwise convolutions of ``adapters`` as one grouped
    convolution: ``(A*d, 1, K, K)`` weight and ``(A*d, )`` bias, ``K`` the
    largest kernel size. Several sizes average into one kernel (smaller
    ones zero-padded, centred): the same map as averaging the filtered
    grids. ``(None, None)`` without convolutions."""
    per_size = list(zip(*(a.depthwise_convs() for a in adapters)))
    if not per_size:
        return None, None
    weights = [torch.cat([c.weight for c in convs]) for convs in per_size]
    biases = [torch.cat([c.bias for c in convs]) for convs in per_size]
    if len(per_size) == 1:
        return weights[0], biases[0]
    size = max(w.shape[-1] for w in weights)
    padded = [F.pad(w, ((size - w.shape[-1]) // 2, ) * 4) for w in weights]
    return torch.stack(padded).mean(0), torch.stack(biases).mean(0)


def run_adapter_bank(base, taps, adapters, hw_shape, tap_dtype, activation):
    """``base + sum_a A_a(taps[a])`` for a stage's adapters.

    Args:
        base (Tensor | None): ``(B, H*W, C)`` (any graph), or None (zero).
        taps (Tensor): ``(A, B, H*W, C)``, graph-free: what adapter ``a``
            reads is ``taps[a]``.
        adapters (list[DualLowRankAdapter]): The ``A`` adapters (all the
            same sizes; :class:`DualLowRankConvAdapter`'s depthwise
            convolutions and gates included).
        hw_shape (tuple[int]): ``(H, W)``.
        tap_dtype (str | None): How backward keeps the taps
            (:func:`_store_taps`); the forward uses their exact values.
        activation (str): :func:`bank_activation` of the adapters' act.

    Returns:
        Tensor: ``(B, H*W, C)``, in the adapters' dtype (fp32).
    """
    first = adapters[0]
    up1 = torch.stack([a.up1.weight for a in adapters])
    dw_weight = dw_bias = None
    if isinstance(first, DualLowRankConvAdapter):
        dw_weight, dw_bias = _depthwise_kernel(adapters)
        if first.gate is not None:
            up1 = up1 * torch.stack([a.gate for a in adapters]).view(-1, 1, 1)
    if first.scale != 1.0:
        up1 = up1 * first.scale
    out = AdapterBankFunction.apply(
        None if base is None else base.flatten(0, 1), taps,
        torch.stack([a.down1.weight for a in adapters]),
        torch.stack([a.down2.weight for a in adapters]), up1,
        torch.stack([a.up2.weight for a in adapters]), dw_weight,
        dw_bias, hw_shape, tap_dtype, activation)
    return out.view(taps.shape[1:])
