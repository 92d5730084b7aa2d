"""Mona's multi-cognitive visual adapter."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


class MonaAdapter(BaseModule):
    """``x + up(dropout(gelu(filters(down(s1 * LN(x) + s2 * x)))))``
    (Yin et al., "5%>100%: Breaking Performance Shackles of Full Fine-Tuning
    on Visual Recognition Tasks", CVPR 2025). ``filters`` averages 3x3, 5x5
    and 7x7 depth-wise convolutions with a skip, then a 1x1 convolution with a
    skip. ``s1`` starts at 1e-6, ``s2`` at 1; the projections use PyTorch's
    default init, so Mona does not start as the identity.

    Shapes: ``(B, H*W, C)`` with ``hw_shape=(H, W)`` -> ``(B, H*W, C)``.
    All parameters trainable.
    """

    def __init__(self, in_dims, bottleneck_dims=64, dropout=0.1):
        super().__init__()
        self.norm = nn.LayerNorm(in_dims)
        self.norm_scale = nn.Parameter(torch.full((in_dims, ), 1e-6))
        self.input_scale = nn.Parameter(torch.ones(in_dims))
        self.down = nn.Linear(in_dims, bottleneck_dims)
        self.dw_convs = nn.ModuleList(
            nn.Conv2d(bottleneck_dims, bottleneck_dims, k, padding=k // 2,
                      groups=bottleneck_dims) for k in (3, 5, 7))
        self.pointwise = nn.Conv2d(bottleneck_dims, bottleneck_dims, 1)
        self.dropout = nn.Dropout(dropout)
        self.up = nn.Linear(bottleneck_dims, in_dims)

    def init_weights(self):
        for module in self.modules():
            if module is not self and hasattr(module, 'reset_parameters'):
                module.reset_parameters()
        nn.init.constant_(self.norm_scale, 1e-6)
        nn.init.ones_(self.input_scale)

    def forward(self, x, hw_shape):
        y = self.norm(x) * self.norm_scale + x * self.input_scale
        y = self.down(y)
        batch, _, width = y.shape
        y = y.transpose(1, 2).reshape(batch, width, *hw_shape)
        y = sum(conv(y) for conv in self.dw_convs) / len(self.dw_convs) + y
        y = self.pointwise(y) + y
        y = y.flatten(2).transpose(1, 2)
        return x + self.up(self.dropout(F.gelu(y)))
