"""E3VA+: E3VA's graph-free frozen Swin and adapter highway, with cheap
additions aimed at in-backbone adapter accuracy (beyond the paper)."""
from ...registry import TUNINGS
from ..adapters import DualLowRankConvAdapter
from ..adapters.dual_low_rank_conv_adapter import depthwise_kernel_sizes
from .e3va import E3VATuning


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
            ``scale``, ``act_cfg``, ``frozen_train_mode``, ``frozen_dtype``).
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
        # input is fp32, and autograd would keep an fp32 tap.
        return (branch + branch_input).to(branch.dtype)

    def _update_highway(self, highway, adapters, taps, hw_shape):
        highway = (highway + adapters['attn'](taps[0], hw_shape) +
                   adapters['mlp'](taps[1], hw_shape))
        if 'mix' in adapters:
            highway = highway + adapters['mix'](highway, hw_shape)
        return highway


# Named tuning configs for the ablation study: the default, then E3VA plus
# one addition at a time (``-msdw``: Mona's 3/5/7 filters in place of
# ``-dw``'s 3x3), then everything.
E3VA_PLUS_ABLATIONS = {
    'E3VAPlus': dict(type='E3VAPlus'),
    'E3VAPlus-dw': dict(type='E3VAPlus', rank=20, dwconv=True,
                        highway_mix=False),
    'E3VAPlus-msdw': dict(type='E3VAPlus', rank=20, dwconv=(3, 5, 7),
                          highway_mix=False),
    'E3VAPlus-rank': dict(type='E3VAPlus', rank=(20, 20, 20, 40),
                          dwconv=False, highway_mix=False),
    'E3VAPlus-gate': dict(type='E3VAPlus', rank=20, dwconv=False, gate=True,
                          highway_mix=False),
    'E3VAPlus-tapin': dict(type='E3VAPlus', rank=20, dwconv=False,
                           tap_input=True, highway_mix=False),
    'E3VAPlus-mix': dict(type='E3VAPlus', rank=20, dwconv=False,
                         highway_mix=True),
    'E3VAPlus-all': dict(type='E3VAPlus', rank=(20, 20, 20, 40),
                         dwconv=True, gate=True, tap_input=True,
                         highway_mix=True),
}
