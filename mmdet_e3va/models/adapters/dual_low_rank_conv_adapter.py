"""The E3VA adapter with spatial context and an output gate (E3VA+)."""
import torch
import torch.nn as nn

from .dual_low_rank_adapter import DualLowRankAdapter


def depthwise_kernel_sizes(dwconv):
    """The kernel sizes a ``dwconv`` option asks for: ``()`` for False,
    ``(3, )`` for True, or the given sizes (distinct positive odd
    integers, at least one); raises ``ValueError`` naming ``dwconv``
    otherwise."""
    if isinstance(dwconv, bool):
        return (3, ) if dwconv else ()
    sizes = tuple(dwconv) if isinstance(dwconv, (list, tuple)) else None
    if not sizes or len(set(sizes)) != len(sizes) or any(
            isinstance(k, bool) or not isinstance(k, int) or k < 1
            or k % 2 == 0 for k in sizes):
        raise ValueError(
            f'dwconv must be a bool or distinct odd kernel sizes such as '
            f'(3, 5, 7), got {dwconv!r}')
    return sizes


class DualLowRankConvAdapter(DualLowRankAdapter):
    """:class:`DualLowRankAdapter` with two optional additions:

    - ``dwconv``: a depthwise convolution on the tokens' ``H x W`` grid
      inside the bottleneck, with a skip, before the activation:
      ``y = D2(D1(x)); y = y + dw(y)``. ``True`` is one 3x3; a sequence
      of odd kernel sizes, e.g. ``(3, 5, 7)``, averages one depthwise
      convolution per size, as Mona's filters do:
      ``dw(y) = mean_k dw_k(y)``. Weights and biases start at zero, so it
      starts as the identity. ``(k*k + 1) d`` parameters per size.
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
        dwconv (bool | Sequence[int]): Add the depthwise convolution:
            ``True`` for a 3x3, or its kernel sizes. One kernel size is the
            module ``dwconv``, several the list ``dwconv.<i>``. Defaults
            to False.
        gate (bool): Add the output gate. Defaults to False.

    Shapes: ``(B, H*W, C)`` with ``hw_shape=(H, W)`` -> ``(B, H*W, C)``.
    Every parameter is trainable.
    """

    def __init__(self, in_dims, bottleneck_dims, rank, scale=1.0,
                 act_cfg=dict(type='GELU'), dwconv=False, gate=False):
        super().__init__(in_dims, bottleneck_dims, rank, scale, act_cfg)
        convs = [
            nn.Conv2d(bottleneck_dims, bottleneck_dims, k, padding=k // 2,
                      groups=bottleneck_dims)
            for k in depthwise_kernel_sizes(dwconv)
        ]
        self.dwconv = (None if not convs else
                       convs[0] if len(convs) == 1 else nn.ModuleList(convs))
        self.gate = nn.Parameter(torch.zeros(())) if gate else None
        self.init_weights()

    def init_weights(self):
        super().init_weights()
        for conv in self.depthwise_convs():
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        if getattr(self, 'gate', None) is not None:
            nn.init.zeros_(self.gate)
            self.up2.reset_parameters()

    def depthwise_convs(self):
        """The depthwise convolutions, in kernel-size order (none without
        ``dwconv``)."""
        # The base constructor calls init_weights before ``dwconv`` exists.
        dwconv = getattr(self, 'dwconv', None)
        if dwconv is None:
            return []
        return list(dwconv) if isinstance(dwconv, nn.ModuleList) else [dwconv]

    def forward(self, x, hw_shape):
        y = self.down2(self.down1(x))
        convs = self.depthwise_convs()
        if convs:
            batch, _, dims = y.shape
            grid = y.transpose(1, 2).reshape(batch, dims, *hw_shape)
            filtered = sum(conv(grid) for conv in convs) / len(convs)
            y = y + filtered.flatten(2).transpose(1, 2)
        y = self.up1(self.act(y))
        if self.gate is not None:
            y = y * self.gate
        y = self.up2(y)
        return y * self.scale if self.scale != 1.0 else y
