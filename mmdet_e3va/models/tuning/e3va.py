"""E3VA: a graph-free frozen Swin and a trainable adapter highway
(arXiv 2306.09729; see docs/method.md)."""
from typing import NamedTuple, Optional

import torch
import torch.nn as nn
from mmengine.model import ModuleDict, ModuleList

from ...registry import TUNINGS
from ..adapters import DualLowRankAdapter, NormAffineDelta
from .adapter_bank import bank_activation, parse_tap_dtype, run_adapter_bank
from .base import BaseTuning, branch_forward
from .frozen_precision import frozen_pass, parse_frozen_dtype
from .highway_merging import merge_highway


def at_least_fp32(tensor):
    """``tensor`` in fp32 when it is half (fp32 and fp64 as they are)."""
    half = tensor.dtype in (torch.float16, torch.bfloat16)
    return tensor.float() if half else tensor


class E3VAState(NamedTuple):
    """What E3VA's forward carries between the override points; every
    tensor ``(B, H_s*W_s, C_s)`` unless said otherwise.

    Attributes:
        tokens: The frozen Swin's tokens ``x``, graph-free.
        highway: The highway ``h`` entering the stage; None while zero
            (stage 0) and once the stage's last block ran.
        taps: While the stage runs, its tap buffer ``(2 * depth, B,
            H_s*W_s, C_s)`` (graph-free; block ``l`` writes ``2l`` and
            ``2l + 1``), else None.
        stream: ``x + h_s`` once the stage's last block ran (what the
            output norm and the downsampling read), else None.
    """
    tokens: torch.Tensor
    highway: Optional[torch.Tensor] = None
    taps: Optional[torch.Tensor] = None
    stream: Optional[torch.Tensor] = None


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

    How it runs: the adapters read only graph-free taps, so the frozen pass
    writes a stage's taps into one buffer and the stage's adapters run
    together after its last block (:func:`run_adapter_bank`: batched GEMMs,
    one autograd node that keeps only the taps and recomputes the rest in
    backward); ``x_s + h`` is computed once and kept once for the output
    norm and the merging (:func:`merge_highway`).

    Args:
        rank (int): k, the rank of each adapter projection. Defaults to 20.
        bottleneck_ratio (float): d / C of the adapters. Defaults to 0.25.
        scale (float): Output scale of the adapters. Defaults to 1.
        act_cfg (dict): Adapter activation, GELU or ReLU. Defaults to GELU.
        frozen_train_mode (bool): Keep the frozen Swin in train mode (drop
            path and dropout active in the frozen pass). Defaults to False.
        frozen_dtype (str | None): ``'bf16'`` or ``'fp16'``: the frozen
            pass's weights (patch embedding and Swin blocks, LayerNorms
            excepted) are stored in that dtype and run under autocast to
            it, and the taps come out (and are kept) at that precision.
            PatchMerging and the output norms, which the highway
            back-propagates through, and every trainable parameter stay
            fp32. State-dict keys are unchanged; checkpoints load across
            dtypes. Defaults to None (fp32).
        tap_dtype (str | None): The precision backward keeps the taps in:
            ``'bf16'``, ``'fp16'`` (finite up to 65504), or ``'int8'`` (a
            scale per token and group of 32 channels); the forward always
            uses their exact values, and the adapters compute in fp32.
            Defaults to None (the frozen pass's precision: lossless).
    """

    def __init__(self, rank=20, bottleneck_ratio=0.25, scale=1.0,
                 act_cfg=dict(type='GELU'), frozen_train_mode=False,
                 frozen_dtype=None, tap_dtype=None):
        super().__init__()
        owner = type(self).__name__
        self.frozen_dtype = parse_frozen_dtype(frozen_dtype, owner)
        self.tap_dtype = parse_tap_dtype(tap_dtype, owner)
        self.activation = bank_activation(act_cfg, owner)
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

    def _bank(self, stage):
        """The tap-reading adapters of stage ``stage``, in tap order."""
        return [block[name] for block in self.adapters[stage]
                for name in ('attn', 'mlp')]

    def _stage_stream(self, stage, tokens, highway, taps, hw_shape):
        """``x_s + h_s`` (fp32), ``h_s`` the incoming highway plus every
        adapter of the stage on its tap (one adapter bank)."""
        tokens = at_least_fp32(tokens)  # half in stage 0 under frozen_dtype
        return run_adapter_bank(
            tokens if highway is None else tokens + highway, taps,
            self._bank(stage), hw_shape, self.tap_dtype, self.activation)

    # The forward's state is an :class:`E3VAState`.

    def num_stages_run(self, swin):
        return self.num_stages

    def embed(self, swin, x):
        with frozen_pass(x.device.type, self.frozen_dtype):
            x, hw_shape = super().embed(swin, x)
        return E3VAState(x), hw_shape

    def run_block(self, block, state, hw_shape, stage, index):
        """The frozen block without a graph, its taps written to the
        stage's buffer; after the stage's last block, the adapter bank."""
        x, highway, taps, _ = state
        depth = len(self.adapters[stage])
        block_taps = []

        def tap(branch, branch_input):
            block_taps.append(self._tap(branch, branch_input))
            return branch

        with frozen_pass(x.device.type, self.frozen_dtype):
            x = branch_forward(block, x, hw_shape, tap, tap)
            if index == 0:
                taps = block_taps[0].new_empty(
                    (2 * depth, *block_taps[0].shape))
            taps[2 * index].copy_(block_taps[0])
            taps[2 * index + 1].copy_(block_taps[1])
        if index < depth - 1:
            return E3VAState(x, highway, taps)
        return E3VAState(x, stream=self._stage_stream(stage, x, highway,
                                                      taps, hw_shape))

    def stage_output(self, swin, stage, state, hw_shape):
        return self.norm_deltas[str(stage)](state.stream,
                                            getattr(swin, f'norm{stage}'))

    def downsample(self, stage, state, hw_shape):
        """``x`` through the frozen (fp32) PatchMerging without a graph,
        ``h`` as ``PM(x + h) - PM(x)``."""
        with torch.no_grad():
            x_down, down_hw_shape = stage.downsample(
                at_least_fp32(state.tokens), hw_shape)
        highway = merge_highway(stage.downsample, state.stream, x_down,
                                hw_shape)
        return E3VAState(x_down, highway), down_hw_shape
