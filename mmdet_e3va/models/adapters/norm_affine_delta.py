"""A trainable correction to a frozen LayerNorm's affine parameters."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class NormAffineDelta(nn.Module):
    """Applies a frozen ``nn.LayerNorm`` with affine ``(w + dw, b + db)``.

    ``dw`` and ``db`` are the only trainable tensors and start at zero, so
    the result equals the frozen norm whatever weights it was loaded with
    (``init_cfg``, ``load_from`` or resume) until training moves them.

    Args:
        num_features (int): C, the normalised width.

    Shapes: ``(..., C) -> (..., C)``.
    """

    def __init__(self, num_features):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x, norm):
        return F.layer_norm(x, norm.normalized_shape,
                            norm.weight + self.weight, norm.bias + self.bias,
                            norm.eps)
