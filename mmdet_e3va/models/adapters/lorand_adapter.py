"""LoRand's adapter: projections synthesised from low-rank branches."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


class LoRandAdapter(BaseModule):
    """``up(gelu(down(x)))`` whose ``C x d`` down and ``d x C`` up weights are
    each a sum of ``num_branches`` products ``P_i K_i Q_i`` of rank ``rank``;
    the ``rank x rank`` kernels ``K_i`` are shared by the two projections
    (Yin et al., "1% VS 100%: Parameter-Efficient Low Rank Adapter for Dense
    Predictions", CVPR 2023). Biases on both projections. The up
    projection's ``P`` factors start at zero (the zero map).

    Parameters: ``2 * num_branches * rank * (C + d) + num_branches * rank**2
    + C + d``. Shapes: ``(..., C) -> (..., C)``. All trainable.
    """

    def __init__(self, in_dims, bottleneck_dims, num_branches=2, rank=8):
        super().__init__()
        n, r = num_branches, rank
        self.kernels = nn.Parameter(torch.empty(n, r, r))
        self.down_p = nn.Parameter(torch.empty(n, bottleneck_dims, r))
        self.down_q = nn.Parameter(torch.empty(n, r, in_dims))
        self.down_bias = nn.Parameter(torch.zeros(bottleneck_dims))
        self.up_p = nn.Parameter(torch.empty(n, in_dims, r))
        self.up_q = nn.Parameter(torch.empty(n, r, bottleneck_dims))
        self.up_bias = nn.Parameter(torch.zeros(in_dims))
        self.init_weights()

    def init_weights(self):
        for param in (self.kernels, self.down_p, self.down_q, self.up_q):
            nn.init.kaiming_uniform_(param, a=math.sqrt(5))
        for param in (self.up_p, self.down_bias, self.up_bias):
            nn.init.zeros_(param)

    def forward(self, x):
        down = torch.einsum('nar,nrs,nsb->ab', self.down_p, self.kernels,
                            self.down_q)
        up = torch.einsum('nar,nrs,nsb->ab', self.up_p, self.kernels,
                          self.up_q)
        x = F.gelu(F.linear(x, down, self.down_bias))
        return F.linear(x, up, self.up_bias)
