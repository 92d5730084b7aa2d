"""Adapter methods that insert trainable modules into every Swin block and
back-propagate through the frozen blocks."""
import torch.utils.checkpoint as cp
from mmengine.model import ModuleDict, ModuleList

from ...registry import TUNINGS
from ..adapters import BottleneckAdapter, LoRandAdapter, MonaAdapter
from .base import BaseTuning, branch_forward


class BlockAdapterTuning(BaseTuning):
    """Builds ``adapters[stage][block]``, a ``ModuleDict`` from
    :meth:`build_block_adapters` for every block, and runs every block as
    :meth:`block_forward` (checkpointed when the block was built
    ``with_cp``, as upstream ``SwinBlock`` does)."""

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

    def run_block(self, block, x, hw_shape, stage, index):
        if block.with_cp and x.requires_grad:
            return cp.checkpoint(self.block_forward, block, x, hw_shape,
                                 stage, index, use_reentrant=False)
        return self.block_forward(block, x, hw_shape, stage, index)

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
    ``C * bottleneck_ratio`` with ``bottleneck_ratio=0.5``).

    Swin-B 1.20 M, the E3VA paper's count; Swin-L 1.79 M against its
    1.31 M. Both columns have 24 blocks, so the paper's pair fixes about 18
    parameters per channel and 41 k per block: among adapters of this form
    (1-8 branches, rank 1-64, bottleneck ``C/16``-``C`` or fixed, shared or
    separate kernels, with or without biases, one or two per block) only a
    fixed width of 1,536-3,072, wider than every Swin-B stage and so no
    bottleneck, lands within 3% of both. The paper configs keep this
    setting.
    """

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
    parallel with a branch of every block, reading the branch's input:
    ``MLP(LN(x)) + s * A(LN(x))`` beside the MLP and, with ``'attn'`` in
    ``branches``, ``Attn(LN(x)) + s * A(LN(x))`` beside the (S)W-MSA.

    Defaults (AdaptFormer's own): one adapter beside the MLP,
    ``bottleneck_dims=64``, ``scale=0.1``, ReLU; zero-initialised up
    projection (Swin-B 1.55 M). The E3VA paper's budget (Swin-B 3.11 M,
    Swin-L 4.66 M) is two per block, ``branches=('attn', 'mlp')``: Swin-B
    3.107 M, Swin-L 4.659 M; the paper configs use it.

    Args:
        bottleneck_dims (int): d of every adapter. Defaults to 64.
        scale (float): s. Defaults to 0.1.
        act_cfg (dict): Bottleneck activation. Defaults to ReLU.
        branches (tuple[str]): ``'attn'`` and/or ``'mlp'``. Defaults to
            ``('mlp',)``.
    """

    def __init__(self, bottleneck_dims=64, scale=0.1,
                 act_cfg=dict(type='ReLU'), branches=('mlp', )):
        super().__init__()
        branches = tuple(branches)
        if (not branches or len(set(branches)) != len(branches)
                or not set(branches) <= {'attn', 'mlp'}):
            raise ValueError(f"AdaptFormer: branches={branches!r} must be "
                             f"distinct names from ('attn', 'mlp')")
        self.bottleneck_dims = bottleneck_dims
        self.scale = scale
        self.act_cfg = act_cfg
        self.branches = branches

    def build_block_adapters(self, width):
        return {
            branch: BottleneckAdapter(width, self.bottleneck_dims, self.scale,
                                      self.act_cfg)
            for branch in self.branches
        }

    def block_forward(self, block, x, hw_shape, stage, index):
        adapters = self.adapters[stage][index]
        beside = {
            branch: (lambda b, branch_in, a=adapter: b + a(branch_in))
            for branch, adapter in adapters.items()
        }
        return branch_forward(block, x, hw_shape, beside.get('attn'),
                              beside.get('mlp'))


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
        return branch_forward(
            block, x, hw_shape,
            attn_residual_fn=lambda y: adapters['attn'](y, hw_shape),
            mlp_residual_fn=lambda y: adapters['mlp'](y, hw_shape))
