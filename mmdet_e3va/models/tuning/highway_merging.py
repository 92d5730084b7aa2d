"""E3VA's highway through the backbone's frozen PatchMerging,
``PM(x + h) - PM(x)``, keeping for backward only ``x + h``, which the
stage's output norm keeps anyway."""
import torch
import torch.nn.functional as F


def merge_highway(merging, stream, merged_tokens, hw_shape):
    """``merging(stream) - merged_tokens`` with its gradient to ``stream``.

    Args:
        merging (PatchMerging): The stage's upstream PatchMerging (frozen:
            no gradient reaches its weights).
        stream (Tensor): ``x + h``, ``(B, H*W, C)``.
        merged_tokens (Tensor): ``PM(x)``, ``(B, H'*W', C')``, graph-free.
        hw_shape (tuple[int]): ``(H, W)``.

    Returns:
        Tensor: the merged highway ``(B, H'*W', C')``.

    Upstream PatchMerging (gather 2x2 -> LayerNorm(4C) -> Linear) would
    keep its LayerNorm's input and its Linear's input, two more tensors of
    ``stream``'s size; this function keeps ``stream`` and the LayerNorm's
    statistics and regathers in backward.
    """
    sampler = merging.sampler
    unfold = dict(kernel_size=sampler.kernel_size, dilation=sampler.dilation,
                  padding=sampler.padding, stride=sampler.stride)
    return MergedHighwayFunction.apply(
        stream, merged_tokens, tuple(hw_shape),
        _padding(merging.adap_padding, hw_shape), unfold, merging.norm.weight,
        merging.norm.bias, merging.norm.eps, merging.reduction.weight,
        merging.reduction.bias)


def _padding(adaptive_padding, hw_shape):
    """``F.pad``'s ``(left, right, top, bottom)`` of mmcv's
    ``AdaptivePadding`` for an ``(H, W)`` input (zeros without one)."""
    if adaptive_padding is None:
        return (0, 0, 0, 0)
    pad_h, pad_w = adaptive_padding.get_pad_shape(hw_shape)
    if adaptive_padding.padding == 'corner':
        return (0, pad_w, 0, pad_h)
    return (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)


def _gather(stream, hw_shape, pads, unfold):
    """PatchMerging's 2x2 gather: ``(B, H*W, C)`` -> ``(B, H'*W', 4C)``."""
    batch, _, dims = stream.shape
    grid = stream.view(batch, *hw_shape, dims).permute(0, 3, 1, 2)
    if any(pads):
        grid = F.pad(grid, pads)
    return F.unfold(grid, **unfold).transpose(1, 2)


def _gather_adjoint(grad, hw_shape, pads, unfold):
    """The adjoint of :func:`_gather`: ``(B, H'*W', 4C)`` ->
    ``(B, H*W, C)``."""
    left, right, top, bottom = pads
    height, width = hw_shape
    grid = F.fold(grad.transpose(1, 2),
                  (height + top + bottom, width + left + right), **unfold)
    grid = grid[:, :, top:top + height, left:left + width]
    return grid.permute(0, 2, 3, 1).flatten(1, 2)


class MergedHighwayFunction(torch.autograd.Function):
    """See :func:`merge_highway`; computes in the weights' dtype (fp32),
    autocast off. Saves ``stream`` and the LayerNorm's mean and rstd
    (``(B, H'*W', 1)``)."""

    @staticmethod
    def forward(ctx, stream, merged_tokens, hw_shape, pads, unfold,
                norm_weight, norm_bias, eps, reduction_weight,
                reduction_bias):
        with torch.autocast(stream.device.type, enabled=False):
            gathered = _gather(stream.to(norm_weight.dtype), hw_shape, pads,
                               unfold)
            normed, mean, rstd = torch.native_layer_norm(
                gathered, [gathered.shape[-1]], norm_weight, norm_bias, eps)
            merged = F.linear(normed, reduction_weight,
                              reduction_bias) - merged_tokens
        ctx.save_for_backward(stream, mean, rstd, norm_weight, norm_bias,
                              reduction_weight)
        ctx.hw_shape, ctx.pads, ctx.unfold = hw_shape, pads, unfold
        return merged

    @staticmethod
    def backward(ctx, grad):
        (stream, mean, rstd, norm_weight, norm_bias,
         reduction_weight) = ctx.saved_tensors
        with torch.autocast(grad.device.type, enabled=False):
            gathered = _gather(stream.to(norm_weight.dtype), ctx.hw_shape,
                               ctx.pads, ctx.unfold)
            grad_gathered = torch.ops.aten.native_layer_norm_backward(
                torch.matmul(grad.to(reduction_weight.dtype),
                             reduction_weight), gathered,
                [gathered.shape[-1]], mean, rstd, norm_weight, norm_bias,
                [True, False, False])[0]
            grad_stream = _gather_adjoint(grad_gathered, ctx.hw_shape,
                                          ctx.pads, ctx.unfold)
        return (grad_stream.to(stream.dtype), ) + (None, ) * 9
