"""The E3VA adapter: a bottleneck whose projections are themselves low rank."""
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule


class DualLowRankAdapter(BaseModule):
    """``A(x) = scale * U2(U1(act(D2(D1(x)))))`` (E3VA, arXiv 2306.09729).

    A bottleneck ``C -> d -> C`` whose down and up projections are each
    factorised through rank ``k``: ``D1: C->k, D2: k->d, U1: d->k, U2: k->C``,
    no biases, ``2k(C + d)`` parameters. ``U2`` starts at zero, so the adapter
    starts as the zero map; the other projections use PyTorch's Kaiming
    uniform init. Every parameter is trainable.

    Args:
        in_dims (int): C, the width of the tapped activation.
        bottleneck_dims (int): d, the bottleneck width.
        rank (int): k, the rank of each factorised projection.
        scale (float): Output scale. Defaults to 1.0.
        act_cfg (dict): Activation between the projections.

    Shapes: ``(..., C) -> (..., C)``.
    """

    def __init__(self, in_dims, bottleneck_dims, rank, scale=1.0,
                 act_cfg=dict(type='GELU')):
        super().__init__()
        self.scale = scale
        self.down1 = nn.Linear(in_dims, rank, bias=False)
        self.down2 = nn.Linear(rank, bottleneck_dims, bias=False)
        self.act = build_activation_layer(act_cfg)
        self.up1 = nn.Linear(bottleneck_dims, rank, bias=False)
        self.up2 = nn.Linear(rank, in_dims, bias=False)
        self.init_weights()

    def init_weights(self):
        for layer in (self.down1, self.down2, self.up1):
            layer.reset_parameters()
        nn.init.zeros_(self.up2.weight)

    def forward(self, x):
        x = self.up2(self.up1(self.act(self.down2(self.down1(x)))))
        return x * self.scale if self.scale != 1.0 else x
