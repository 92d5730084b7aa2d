"""The E3VA adapter with spatial context and an output gate (E3VA+)."""
import torch
import torch.nn as nn

from .dual_low_rank_adapter import DualLowRankAdapter


class DualLowRankConvAdapter(DualLowRankAdapter):
    """:class:`DualLowRankAdapter` with two optional additions:

    - ``dwconv``: a depthwise 3x3 convolution on the tokens' ``H x W`` grid
      inside the bottleneck, with a skip, before the activation:
      ``y = D2(D1(x)); y = y + dw(y)``. Its weight and bias start at zero,
      so it starts as the identity. ``10d`` parameters.
    - ``gate``: a learned scalar ``g`` on the output, ``g * A(x)``, applied
      on the rank-k side of ``U2`` (``U2(g * U1(.))``, the same map) so that
      autograd saves a k-wide tensor rather than a C-wide one. ``g`` starts
      at zero and ``U2`` gets PyTorch's Kaiming-uniform init instead of
      zero, so the adapter still starts as the zero map while both factors
      receive gradients once ``g`` moves (zero-init gating). One
      parameter.

    Args:
        in_dims, bottleneck_dims, rank, scale, act_cfg: As
            :class:`DualLowRankAdapter`.
        dwconv (bool): Add the depthwise convolution. Defaults to False.
        gate (bool): Add the output gate. Defaults to False.

    Shapes: ``(B, H*W, C)`` with ``hw_shape=(H, W)`` -> ``(B, H*W, C)``.
    Every parameter is trainable.
    """

    def __init__(self, in_dims, bottleneck_dims, rank, scale=1.0,
                 act_cfg=dict(type='GELU'), dwconv=False, gate=False):
        super().__init__(in_dims, bottleneck_dims, rank, scale, act_cfg)
        self.dwconv = nn.Conv2d(
            bottleneck_dims, bottleneck_dims, 3, padding=1,
            groups=bottleneck_dims) if dwconv else None
        self.gate = nn.Parameter(torch.zeros(())) if gate else None
        self.init_weights()

    def init_weights(self):
        super().init_weights()
        # The base constructor calls this before the additions exist.
        dwconv = getattr(self, 'dwconv', None)
        if dwconv is not None:
            nn.init.zeros_(dwconv.weight)
            nn.init.zeros_(dwconv.bias)
        if getattr(self, 'gate', None) is not None:
            nn.init.zeros_(self.gate)
            self.up2.reset_parameters()

    def forward(self, x, hw_shape):
        y = self.down2(self.down1(x))
        if self.dwconv is not None:
            batch, _, dims = y.shape
            grid = y.transpose(1, 2).reshape(batch, dims, *hw_shape)
            y = y + self.dwconv(grid).flatten(2).transpose(1, 2)
        y = self.up1(self.act(y))
        if self.gate is not None:
            y = y * self.gate
        y = self.up2(y)
        return y * self.scale if self.scale != 1.0 else y
