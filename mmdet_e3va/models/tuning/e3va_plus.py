"""E3VA+: E3VA's graph-free frozen Swin and adapter highway, with cheap
additions aimed at in-backbone adapter accuracy (beyond the paper)."""
from ...registry import TUNINGS
from ..adapters import DualLowRankConvAdapter
from ..adapters.dual_low_rank_conv_adapter import depthwise_kernel_sizes
from .adapter_bank import run_adapter_bank
from .e3va import E3VATuning, at_least_fp32


@TUNINGS.register_module(name='E3VAPlus')
class E3VAPlusTuning(E3VATuning):
    """E3VA (:class:`E3VATuning`) with each addition a separate option.

    The defining property is kept: the frozen Swin runs under
    ``torch.no_grad`` and only the adapters, the highway and the frozen
    PatchMerging between stages are in the autograd graph. The adapters are
    :class:`DualLowRankConvAdapter`. Options:

    - ``dwconv``: a depthwise 3x3 convolution (skip, zero-initialised) in
      every adapter's ``d``-wide bottleneck: spatial context. Or kernel
      sizes, e.g. ``(3, 5, 7)``: the average of one depthwise convolution
      per size, as Mona's multi-scale filters.
    - ``rank``: one ``k`` for every stage, or four, one per stage: more
      capacity where the channels are wide.
    - ``gate``: a zero-initialised scalar gate on every adapter's output.
    - ``tap_input``: the adapters read ``branch_out + branch_in`` (the
      branch's LayerNorm-ed input added to its output) instead of the
      branch output alone; no extra parameters or saved activations.
    - ``highway_mix``: a highway adapter ``h = h + M(h)`` (same adapter kind,
      the stage's rank) after the last block of every stage, before the
      output norm and the downsampling: a non-linear step that makes the
      highway depend on what the stage's adapters wrote to it. (After every
      block instead it would add half of the adapters' parameters and
      saved activations again, beyond the 2% budget on Swin-B.)

    The attention and MLP adapters run in E3VA's adapter bank with every
    option (``rank`` per stage, ``dwconv`` as one grouped convolution over
    the stage's adapters, ``gate`` folded into ``U1``, ``tap_input``
    written into the tap buffer). The ``highway_mix`` adapter keeps a
    module path: it reads the highway, which carries a graph, so it cannot
    be recomputed from graph-free taps and its gradient must reach the
    highway.

    Every addition starts as the identity (zero-initialised ``U2``, conv or
    gate), so at initialisation the outputs equal upstream Swin's. With
    ``rank=20, dwconv=False, gate=False, tap_input=False,
    highway_mix=False`` it is E3VA, state-dict keys included.

    Args:
        rank (int | Sequence[int]): k, for all stages or one per stage.
            Defaults to ``(20, 20, 20, 40)``.
        dwconv (bool | Sequence[int]): Defaults to True (one 3x3).
        gate (bool): Defaults to False.
        tap_input (bool): Defaults to False.
        highway_mix (bool): Defaults to True.
        **kwargs: The other :class:`E3VATuning` options (``bottleneck_ratio``,
            ``scale``, ``act_cfg``, ``frozen_train_mode``, ``frozen_dtype``,
            ``tap_dtype``).
    """

    def __init__(self, rank=(20, 20, 20, 40), dwconv=True, gate=False,
                 tap_input=False, highway_mix=True, **kwargs):
        ranks = (tuple(rank) if isinstance(rank, (list, tuple)) else
                 (rank, ) * 4)
        if len(ranks) != 4 or any(
                not isinstance(r, int) or r <= 0 for r in ranks):
            raise ValueError(
                f'E3VAPlus: rank must be a positive integer or 4 of them '
                f'(one per stage), got {rank!r}')
        try:
            depthwise_kernel_sizes(dwconv)
        except ValueError as err:
            raise ValueError(f'E3VAPlus: {err}') from None
        super().__init__(rank=ranks[0], **kwargs)
        self.rank = ranks
        self.dwconv = dwconv
        self.gate = gate
        self.tap_input = tap_input
        self.highway_mix = highway_mix

    def attach(self, swin):
        self.depths = [len(stage.blocks) for stage in swin.stages]
        super().attach(swin)

    def _block_adapters(self, stage, block, width):
        modules = dict(attn=self._stage_adapter(stage, width),
                       mlp=self._stage_adapter(stage, width))
        if self.highway_mix and block == self.depths[stage] - 1:
            modules['mix'] = self._stage_adapter(stage, width)
        return modules

    def _stage_adapter(self, stage, width):
        return DualLowRankConvAdapter(
            width, max(1, round(width * self.bottleneck_ratio)),
            self.rank[stage], self.scale, self.act_cfg, self.dwconv,
            self.gate)

    def _tap(self, branch, branch_input):
        if not self.tap_input:
            return branch
        # In the branch's dtype: under a half frozen_dtype the LayerNorm-ed
        # input is fp32, and the tap buffer would be fp32.
        return (branch + branch_input).to(branch.dtype)

    def _stage_stream(self, stage, tokens, highway, taps, hw_shape):
        """E3VA's, then with ``highway_mix`` ``h_s = h_s + M(h_s)``."""
        if not self.highway_mix:
            return super()._stage_stream(stage, tokens, highway, taps,
                                         hw_shape)
        highway = run_adapter_bank(highway, taps, self._bank(stage),
                                   hw_shape, self.tap_dtype, self.activation)
        mix = self.adapters[stage][-1]['mix']
        return at_least_fp32(tokens) + highway + mix(highway, hw_shape)
