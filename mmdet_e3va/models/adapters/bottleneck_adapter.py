"""The classic bottleneck adapter (Houlsby et al.; AdaptFormer)."""
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule


class BottleneckAdapter(BaseModule):
    """``scale * up(act(down(x)))``: ``C -> d -> C`` with biases,
    ``2Cd + C + d`` parameters. ``up`` starts at zero (the zero map).

    Shapes: ``(..., C) -> (..., C)``. Every parameter is trainable.
    """

    def __init__(self, in_dims, bottleneck_dims, scale=1.0,
                 act_cfg=dict(type='GELU')):
        super().__init__()
        self.scale = scale
        self.down = nn.Linear(in_dims, bottleneck_dims)
        self.act = build_activation_layer(act_cfg)
        self.up = nn.Linear(bottleneck_dims, in_dims)
        self.init_weights()

    def init_weights(self):
        self.down.reset_parameters()
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x):
        return self.up(self.act(self.down(x))) * self.scale
