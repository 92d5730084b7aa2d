"""E3VA: a graph-free frozen Swin and a trainable adapter highway
(arXiv 2306.09729; see shared/E3VA_SPEC.md)."""
import functools

import torch
import torch.nn as nn
from mmengine.model import ModuleDict, ModuleList

from ...registry import TUNINGS
from ..adapters import DualLowRankAdapter, NormAffineDelta
from .base import BaseTuning, branch_forward
from .frozen_precision import (HalfSavedUpcasts, frozen_autocast,
                               parse_frozen_dtype)


@TUNINGS.register_module(name='E3VA')
class E3VATuning(BaseTuning):
    """E3VA's gradient highway beside a frozen Swin.

    The Swin (every upstream parameter frozen) runs under ``torch.no_grad``,
    so the autograd graph holds none of its activations. Trainable: one
    :class:`DualLowRankAdapter` on each block's (S)W-MSA output and one on
    its MLP output (stages ``0..max(out_indices)``), and a
    :class:`NormAffineDelta` per output norm.

    Per stage ``s``, the highway ``h`` (``(B, H_s*W_s, C_s)``) accumulates
    ``h += A_attn(a_l) + A_mlp(m_l)`` over the blocks; the output is
    ``norm_s(x_s + h)`` with the trainable affine deltas, ``(B, C_s, H_s,
    W_s)``. Between stages ``h`` passes through the backbone's own frozen
    PatchMerging as ``PM(x_s + h) - PM(x_s)``: PatchMerging's LayerNorm maps
    zeros to its bias, so ``PM(h)`` would be non-zero at initialisation,
    whereas the difference is exactly zero there and carries the gradient
    through the frozen merging. Stages after the last output get no
    adapters and are not run. At initialisation the outputs equal upstream
    Swin's.

    Args:
        rank (int): k, the rank of each adapter projection. Defaults to 20.
        bottleneck_ratio (float): d / C of the adapters. Defaults to 0.25.
        scale (float): Output scale of the adapters. Defaults to 1.
        act_cfg (dict): Adapter activation. Defaults to GELU.
        frozen_train_mode (bool): Keep the frozen Swin in train mode (drop
            path and dropout active in the frozen pass). Defaults to False.
        frozen_dtype (str | None): ``'bf16'`` or ``'fp16'``: the frozen
            pass's weights (patch embedding and Swin blocks, LayerNorms
            excepted) are stored in that dtype and run under autocast to
            it, and autograd keeps the adapters' tapped inputs at that
            precision. PatchMerging and the output norms, which the
            highway back-propagates through, and every trainable parameter
            stay fp32. State-dict keys are unchanged; checkpoints load
            across dtypes. Defaults to None (fp32).
    """

    def __init__(self, rank=20, bottleneck_ratio=0.25, scale=1.0,
                 act_cfg=dict(type='GELU'), frozen_train_mode=False,
                 frozen_dtype=None):
        super().__init__()
        owner = type(self).__name__
        self.frozen_dtype = parse_frozen_dtype(frozen_dtype, owner)
        if not isinstance(rank, int) or rank <= 0:
            raise ValueError(
                f'{owner}: rank must be a positive integer, got {rank!r}')
        if not 0 < bottleneck_ratio <= 1:
            raise ValueError(f'{owner}: bottleneck_ratio must be in (0, 1], '
                             f'got {bottleneck_ratio!r}')
        self.rank = rank
        self.bottleneck_ratio = bottleneck_ratio
        self.scale = scale
        self.act_cfg = act_cfg
        self.frozen_eval = not frozen_train_mode

    def attach(self, swin):
        self.num_stages = max(swin.out_indices) + 1
        self.adapters = ModuleList(
            ModuleList(
                ModuleDict(self._block_adapters(i, j, width))
                for j in range(len(stage.blocks)))
            for i, (stage, width) in enumerate(
                zip(swin.stages[:self.num_stages], swin.num_features)))
        self.norm_deltas = ModuleDict({
            str(i): NormAffineDelta(swin.num_features[i])
            for i in swin.out_indices
        })
        if self.frozen_dtype is not None:
            self._store_frozen_pass_in_half(swin)

    def _store_frozen_pass_in_half(self, swin):
        """Cast the weights of the patch embedding and the Swin blocks
        (LayerNorms excepted: CPU LayerNorm needs fp32 affine with fp32
        inputs; they hold <0.1% of the weights) to ``frozen_dtype``."""
        modules = [swin.patch_embed] + [stage.blocks for stage in swin.stages]
        for module in (m for root in modules for m in root.modules()):
            if not isinstance(module, nn.LayerNorm):
                for param in module.parameters(recurse=False):
                    param.data = param.data.to(self.frozen_dtype)
        if swin.use_abs_pos_embed:
            swin.absolute_pos_embed.data = (
                swin.absolute_pos_embed.data.to(self.frozen_dtype))

    def _block_adapters(self, stage, block, width):
        """The modules of block ``block`` of stage ``stage`` (width C)."""
        return dict(attn=self._adapter(width), mlp=self._adapter(width))

    def _adapter(self, width):
        return DualLowRankAdapter(width,
                                  max(1, round(width * self.bottleneck_ratio)),
                                  self.rank, self.scale, self.act_cfg)

    def init_weights(self):
        for module in self.adapters.modules():
            if isinstance(module, DualLowRankAdapter):
                module.init_weights()
        for delta in self.norm_deltas.values():
            nn.init.zeros_(delta.weight)
            nn.init.zeros_(delta.bias)

    def _tap(self, branch, branch_input):
        """What an adapter reads from a block branch: its output
        ``(B, H*W, C)`` (graph-free)."""
        return branch

    def _update_highway(self, highway, adapters, taps, hw_shape):
        """``h + A_attn(a_l) + A_mlp(m_l)`` for one block; ``taps`` holds
        what :meth:`_tap` returned for the attention and the MLP branch."""
        return highway + adapters['attn'](taps[0]) + adapters['mlp'](taps[1])

    def forward_swin(self, swin, x):
        frozen_pass = functools.partial(frozen_autocast, x.device.type,
                                        self.frozen_dtype)
        with torch.no_grad(), frozen_pass():
            x, hw_shape = swin.patch_embed(x)
            if swin.use_abs_pos_embed:
                x = x + swin.absolute_pos_embed
            x = swin.drop_after_pos(x)

        highway = torch.zeros((), device=x.device, dtype=x.dtype)
        outs = []
        for i in range(self.num_stages):
            stage = swin.stages[i]
            for block, adapters in zip(stage.blocks, self.adapters[i]):
                taps = []

                def tap(branch, branch_input):
                    taps.append(self._tap(branch, branch_input))
                    return branch

                with torch.no_grad(), frozen_pass():
                    x = branch_forward(block, x, hw_shape, tap, tap)
                if self.frozen_dtype is None:
                    highway = self._update_highway(highway, adapters, taps,
                                                   hw_shape)
                else:
                    with HalfSavedUpcasts() as saved:
                        highway = self._update_highway(
                            highway, adapters,
                            [saved.upcast(t) for t in taps], hw_shape)
            if i in swin.out_indices:
                out = self.norm_deltas[str(i)](x + highway,
                                               getattr(swin, f'norm{i}'))
                outs.append(
                    out.view(-1, *hw_shape, swin.num_features[i]).permute(
                        0, 3, 1, 2).contiguous())
            if i + 1 < self.num_stages:
                x = x.float() if self.frozen_dtype is not None else x
                with torch.no_grad():
                    x_down, down_hw_shape = stage.downsample(x, hw_shape)
                highway = stage.downsample(x + highway, hw_shape)[0] - x_down
                x, hw_shape = x_down, down_hw_shape
        return outs
