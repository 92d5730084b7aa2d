"""E3VA Swin Transformer: a frozen, graph-free Swin with a trainable
adapter highway (arXiv 2306.09729; see shared/E3VA_SPEC.md)."""
import torch
import torch.nn as nn
from mmdet.models.backbones.swin import SwinTransformer
from mmengine.logging import MMLogger
from mmengine.model import ModuleDict, ModuleList

from ...registry import register_model
from ..adapters import DualLowRankAdapter, NormAffineDelta
from .swin_checkpoint import (check_swin_keys, read_swin_state_dict,
                              resize_relative_position_tables)

HIGHWAY_PREFIXES = ('adapters.', 'norm_deltas.')


def tapped_block_forward(block, x, hw_shape):
    """Run an upstream ``SwinBlock`` and return ``(out, attn, mlp)``.

    ``attn`` is the (S)W-MSA branch output and ``mlp`` the MLP branch output,
    each before its residual add; all are ``(B, H*W, C)``. ``out`` equals
    ``block(x, hw_shape)`` bitwise.
    """
    attn = block.attn(block.norm1(x), hw_shape)
    x = x + attn
    # identity=0 makes mmcv's FFN return its branch without the residual.
    mlp = block.ffn(block.norm2(x), identity=0)
    return x + mlp, attn, mlp


@register_model
class E3VASwinTransformer(SwinTransformer):
    """Swin Transformer tuned with E3VA's gradient highway.

    Takes every argument of upstream ``SwinTransformer`` (same state-dict
    keys for the frozen part, so official and converted checkpoints load
    through ``init_cfg`` or ``load_from`` unchanged) plus the E3VA options.

    Frozen from construction: every upstream parameter (patch embedding,
    blocks, PatchMerging, output norms). They run under ``torch.no_grad``, so
    the autograd graph holds none of their activations. Trainable: one
    :class:`DualLowRankAdapter` on each block's (S)W-MSA output and one on
    its MLP output (stages ``0..max(out_indices)``), and a
    :class:`NormAffineDelta` per output norm.

    Per stage ``s``, the highway ``h`` (``(B, H_s*W_s, C_s)``) accumulates
    ``h += A_attn(a_l) + A_mlp(m_l)`` over the blocks; the output is
    ``norm_s(x_s + h)`` with the trainable affine deltas, ``(B, C_s, H_s,
    W_s)``. Between stages ``h`` passes through the backbone's own frozen
    PatchMerging as ``PM(x_s + h) - PM(x_s)``: PatchMerging's LayerNorm maps
    zeros to its bias, so ``PM(h)`` would be non-zero at initialisation,
    whereas the difference is exactly zero there and carries the gradient
    through the frozen merging. At initialisation (``U2 = 0``, deltas 0) the
    outputs equal upstream Swin's.

    Args:
        rank (int): k, the rank of each adapter projection. Defaults to 20.
        bottleneck_ratio (float): d / C of the adapters. Defaults to 0.25.
        adapter_scale (float): Output scale of the adapters. Defaults to 1.
        adapter_act_cfg (dict): Adapter activation. Defaults to GELU.
        frozen_train_mode (bool): Keep the frozen modules in train mode
            (drop path and dropout active in the frozen pass). Defaults to
            False: they stay in eval mode.
        **kwargs: Upstream ``SwinTransformer`` arguments. ``with_cp`` and
            ``frozen_stages`` are accepted for config compatibility and have
            no effect: nothing is back-propagated through the frozen blocks.
    """

    def __init__(self,
                 rank=20,
                 bottleneck_ratio=0.25,
                 adapter_scale=1.0,
                 adapter_act_cfg=dict(type='GELU'),
                 frozen_train_mode=False,
                 **kwargs):
        if not isinstance(rank, int) or rank <= 0:
            raise ValueError(
                f'E3VASwinTransformer: rank must be a positive integer, '
                f'got {rank!r}')
        if not 0 < bottleneck_ratio <= 1:
            raise ValueError(
                f'E3VASwinTransformer: bottleneck_ratio must be in (0, 1], '
                f'got {bottleneck_ratio!r}')
        num_stages = len(kwargs.get('depths', (2, 2, 6, 2)))
        out_indices = tuple(kwargs.get('out_indices', (0, 1, 2, 3)))
        if not out_indices or any(
                not 0 <= i < num_stages for i in out_indices):
            raise ValueError(
                f'E3VASwinTransformer: out_indices={out_indices} must be '
                f'non-empty stage indices in [0, {num_stages - 1}]')
        norm_type = kwargs.get('norm_cfg', dict(type='LN'))['type']
        if norm_type != 'LN':
            raise ValueError(f'E3VASwinTransformer: norm_cfg type must be '
                             f'LN, got {norm_type!r}')
        super().__init__(**kwargs)
        self.frozen_train_mode = frozen_train_mode
        self.requires_grad_(False)

        # Stages after the last output never reach the neck: skip them.
        self.num_highway_stages = max(out_indices) + 1
        self.adapters = ModuleList()
        for stage, width in zip(self.stages[:self.num_highway_stages],
                                self.num_features):

            def adapter(width=width):
                return DualLowRankAdapter(width,
                                          max(1, round(width *
                                                       bottleneck_ratio)),
                                          rank, adapter_scale,
                                          adapter_act_cfg)

            self.adapters.append(
                ModuleList(
                    ModuleDict(dict(attn=adapter(), mlp=adapter()))
                    for _ in stage.blocks))
        self.norm_deltas = ModuleDict({
            str(i): NormAffineDelta(self.num_features[i])
            for i in self.out_indices
        })
        self._register_load_state_dict_pre_hook(self._fill_adapter_only_state)

    def train(self, mode=True):
        """Set the mode; frozen modules stay in eval unless
        ``frozen_train_mode``."""
        super().train(mode)
        if mode and not self.frozen_train_mode:
            for name, child in self.named_children():
                if name not in ('adapters', 'norm_deltas'):
                    child.eval()
        return self

    def init_weights(self):
        """Load the frozen Swin from ``init_cfg`` (or init it randomly when
        there is none) and reset the highway to its zero start."""
        if self.init_cfg is None:
            super().init_weights()
        else:
            self._load_pretrained()
        for module in self.modules():
            if isinstance(module, DualLowRankAdapter):
                module.init_weights()
        for delta in self.norm_deltas.values():
            nn.init.zeros_(delta.weight)
            nn.init.zeros_(delta.bias)

    def _frozen_state_from_init_cfg(self):
        """The frozen Swin weights of the ``init_cfg`` checkpoint, checked
        against this model's keys (``KeyError`` naming missing ones)."""
        init_cfg = self.init_cfg or {}
        if init_cfg.get('type') != 'Pretrained' or 'checkpoint' not in init_cfg:
            raise ValueError(
                f'E3VASwinTransformer: init_cfg must be '
                f"dict(type='Pretrained', checkpoint=...), got {init_cfg}")
        filename = init_cfg['checkpoint']
        model_state = self.state_dict()
        state = read_swin_state_dict(filename, self.convert_weights)
        state = resize_relative_position_tables(state, model_state)
        unexpected = check_swin_keys(state, self._frozen_param_names(),
                                     model_state, filename)
        if unexpected:
            MMLogger.get_current_instance().warning(
                f'E3VASwinTransformer: ignored keys of {filename} unknown to '
                f'the model: {unexpected}')
        return {k: v for k, v in state.items()
                if k in model_state and not k.startswith(HIGHWAY_PREFIXES)}

    def _frozen_param_names(self):
        return [n for n, p in self.named_parameters() if not p.requires_grad]

    def _load_pretrained(self):
        self.load_state_dict(self._frozen_state_from_init_cfg(), strict=False)
        MMLogger.get_current_instance().info(
            f'E3VASwinTransformer: loaded {len(self._frozen_param_names())} '
            f'frozen Swin parameters from {self.init_cfg["checkpoint"]}')

    def _fill_adapter_only_state(self, state_dict, prefix, *args):
        """Load pre-hook: a state dict with this backbone's trainable keys
        but none of its frozen ones (an adapter-only checkpoint) gets the
        frozen weights from ``init_cfg`` and the buffers from this model."""
        frozen = self._frozen_param_names()
        has_trainable = any(prefix + n in state_dict
                            for n, p in self.named_parameters()
                            if p.requires_grad)
        if not has_trainable or any(prefix + n in state_dict for n in frozen):
            return
        if not (self.init_cfg or {}).get('checkpoint'):
            raise KeyError(
                'E3VASwinTransformer: the checkpoint is adapter-only (no '
                'frozen Swin weights) and model.backbone.init_cfg names no '
                'base checkpoint to restore them from')
        base = self._frozen_state_from_init_cfg()
        for name, buffer in self.named_buffers():
            base.setdefault(name, buffer)
        state_dict.update({prefix + k: v for k, v in base.items()})
        MMLogger.get_current_instance().info(
            f'E3VASwinTransformer: adapter-only checkpoint; frozen weights '
            f'restored from {self.init_cfg["checkpoint"]}')

    def forward(self, x):
        """``(B, 3, H, W)`` -> one ``(B, C_s, H_s, W_s)`` map per out index."""
        with torch.no_grad():
            x, hw_shape = self.patch_embed(x)
            if self.use_abs_pos_embed:
                x = x + self.absolute_pos_embed
            x = self.drop_after_pos(x)

        highway = torch.zeros((), device=x.device, dtype=x.dtype)
        outs = []
        for i in range(self.num_highway_stages):
            stage = self.stages[i]
            for block, adapters in zip(stage.blocks, self.adapters[i]):
                with torch.no_grad():
                    x, attn, mlp = tapped_block_forward(block, x, hw_shape)
                highway = highway + adapters['attn'](attn) + adapters['mlp'](
                    mlp)
            if i in self.out_indices:
                out = self.norm_deltas[str(i)](x + highway,
                                               getattr(self, f'norm{i}'))
                outs.append(
                    out.view(-1, *hw_shape, self.num_features[i]).permute(
                        0, 3, 1, 2).contiguous())
            if i + 1 < self.num_highway_stages:
                with torch.no_grad():
                    x_down, down_hw_shape = stage.downsample(x, hw_shape)
                highway = stage.downsample(x + highway, hw_shape)[0] - x_down
                x, hw_shape = x_down, down_hw_shape
        return outs
