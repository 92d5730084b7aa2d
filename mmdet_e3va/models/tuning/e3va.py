"""E3VA: a graph-free frozen Swin and a trainable adapter highway
(arXiv 2306.09729; see shared/E3VA_SPEC.md)."""
import torch
import torch.nn as nn
from mmengine.model import ModuleDict, ModuleList

from ...registry import TUNINGS
from ..adapters import DualLowRankAdapter, NormAffineDelta
from .base import BaseTuning, branch_forward


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
    """

    def __init__(self, rank=20, bottleneck_ratio=0.25, scale=1.0,
                 act_cfg=dict(type='GELU'), frozen_train_mode=False):
        super().__init__()
        if not isinstance(rank, int) or rank <= 0:
            raise ValueError(
                f'E3VA: rank must be a positive integer, got {rank!r}')
        if not 0 < bottleneck_ratio <= 1:
            raise ValueError(f'E3VA: bottleneck_ratio must be in (0, 1], '
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
                ModuleDict(
                    dict(attn=self._adapter(width), mlp=self._adapter(width)))
                for _ in stage.blocks)
            for stage, width in zip(swin.stages[:self.num_stages],
                                    swin.num_features))
        self.norm_deltas = ModuleDict({
            str(i): NormAffineDelta(swin.num_features[i])
            for i in swin.out_indices
        })

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

    def forward_swin(self, swin, x):
        with torch.no_grad():
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

                def tap(branch, _):
                    taps.append(branch)
                    return branch

                with torch.no_grad():
                    x = branch_forward(block, x, hw_shape, tap, tap)
                highway = (highway + adapters['attn'](taps[0]) +
                           adapters['mlp'](taps[1]))
            if i in swin.out_indices:
                out = self.norm_deltas[str(i)](x + highway,
                                               getattr(swin, f'norm{i}'))
                outs.append(
                    out.view(-1, *hw_shape, swin.num_features[i]).permute(
                        0, 3, 1, 2).contiguous())
            if i + 1 < self.num_stages:
                with torch.no_grad():
                    x_down, down_hw_shape = stage.downsample(x, hw_shape)
                highway = stage.downsample(x + highway, hw_shape)[0] - x_down
                x, hw_shape = x_down, down_hw_shape
        return outs
