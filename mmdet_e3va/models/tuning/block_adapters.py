"""Adapter methods that insert trainable modules into every Swin block and
back-propagate through the frozen blocks."""
from mmengine.model import ModuleDict, ModuleList

from ...registry import TUNINGS
from ..adapters import BottleneckAdapter, LoRandAdapter, MonaAdapter
from .base import BaseTuning, branch_forward, swin_forward


class BlockAdapterTuning(BaseTuning):
    """Builds ``adapters[stage][block]``, a ``ModuleDict`` from
    :meth:`build_block_adapters` for every block, and runs the Swin with
    :meth:`block_forward`."""

    def attach(self, swin):
        self.adapters = ModuleList(
            ModuleList(
                ModuleDict(self.build_block_adapters(width))
                for _ in stage.blocks)
            for stage, width in zip(swin.stages, swin.num_features))

    def build_block_adapters(self, width):
        raise NotImplementedError

    def init_weights(self):
        for block in self.adapters:
            for adapters in block:
                for adapter in adapters.values():
                    adapter.init_weights()

    def forward_swin(self, swin, x):
        return swin_forward(swin, x, self.block_forward)

    def block_forward(self, block, x, hw_shape, stage, index):
        raise NotImplementedError


class BranchAdapterTuning(BlockAdapterTuning):
    """One adapter with a skip after the attention branch and one after the
    MLP branch of every block, ``b + A(b)`` (Houlsby placement);
    :meth:`build_adapter` makes ``A``."""

    def build_block_adapters(self, width):
        return {branch: self.build_adapter(width) for branch in ('attn', 'mlp')}

    def build_adapter(self, width):
        raise NotImplementedError

    def block_forward(self, block, x, hw_shape, stage, index):
        adapters = self.adapters[stage][index]
        return branch_forward(block, x, hw_shape,
                              lambda b, _: b + adapters['attn'](b),
                              lambda b, _: b + adapters['mlp'](b))


@TUNINGS.register_module(name='Adapter')
class HoulsbyAdapterTuning(BranchAdapterTuning):
    """Adapter (Houlsby et al., "Parameter-Efficient Transfer Learning for
    NLP", ICML 2019): a :class:`BottleneckAdapter` after each branch.
    Defaults: ``bottleneck_dims=64``, GELU; zero-initialised up
    projections."""

    def __init__(self, bottleneck_dims=64, act_cfg=dict(type='GELU')):
        super().__init__()
        self.bottleneck_dims = bottleneck_dims
        self.act_cfg = act_cfg

    def build_adapter(self, width):
        return BottleneckAdapter(width, self.bottleneck_dims,
                                 act_cfg=self.act_cfg)


@TUNINGS.register_module(name='LoRand')
class LoRandTuning(BranchAdapterTuning):
    """LoRand (Yin et al., "1% VS 100%: Parameter-Efficient Low Rank Adapter
    for Dense Predictions", CVPR 2023): a :class:`LoRandAdapter` after each
    branch (``num_branches=2`` branches of rank ``rank=8``, bottleneck
    ``C * bottleneck_ratio`` with ``bottleneck_ratio=0.5``)."""

    def __init__(self, num_branches=2, rank=8, bottleneck_ratio=0.5):
        super().__init__()
        self.num_branches = num_branches
        self.rank = rank
        self.bottleneck_ratio = bottleneck_ratio

    def build_adapter(self, width):
        return LoRandAdapter(width, int(width * self.bottleneck_ratio),
                             self.num_branches, self.rank)


@TUNINGS.register_module(name='AdaptFormer')
class AdaptFormerTuning(BlockAdapterTuning):
    """AdaptFormer (Chen et al., NeurIPS 2022): a scaled bottleneck in
    parallel with the MLP of every block, reading the MLP's input:
    ``MLP(LN(x)) + s * A(LN(x))``. Defaults: ``bottleneck_dims=64``,
    ``scale=0.1``, ReLU; zero-initialised up projection."""

    def __init__(self, bottleneck_dims=64, scale=0.1,
                 act_cfg=dict(type='ReLU')):
        super().__init__()
        self.bottleneck_dims = bottleneck_dims
        self.scale = scale
        self.act_cfg = act_cfg

    def build_block_adapters(self, width):
        return dict(mlp=BottleneckAdapter(width, self.bottleneck_dims,
                                          self.scale, self.act_cfg))

    def block_forward(self, block, x, hw_shape, stage, index):
        adapter = self.adapters[stage][index]['mlp']
        return branch_forward(block, x, hw_shape,
                              mlp_fn=lambda b, mlp_in: b + adapter(mlp_in))


@TUNINGS.register_module(name='Mona')
class MonaTuning(BlockAdapterTuning):
    """Mona (Yin et al., "5%>100%", CVPR 2025): a :class:`MonaAdapter`
    (``bottleneck_dims=64``) on the residual stream after the attention add
    and after the MLP add of every block. Not an identity at
    initialisation."""

    identity_at_init = False

    def __init__(self, bottleneck_dims=64, dropout=0.1):
        super().__init__()
        self.bottleneck_dims = bottleneck_dims
        self.dropout = dropout

    def build_block_adapters(self, width):
        return {
            branch: MonaAdapter(width, self.bottleneck_dims, self.dropout)
            for branch in ('attn', 'mlp')
        }

    def block_forward(self, block, x, hw_shape, stage, index):
        adapters = self.adapters[stage][index]
        x = adapters['attn'](x + block.attn(block.norm1(x), hw_shape),
                             hw_shape)
        mlp = block.ffn(block.norm2(x), identity=0)
        return adapters['mlp'](x + mlp, hw_shape)
