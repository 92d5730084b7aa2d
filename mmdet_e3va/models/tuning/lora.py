"""LoRA on the attention projections of every Swin block."""
import functools
import math

import torch
import torch.nn as nn
from mmengine.model import ModuleDict

from ...registry import TUNINGS
from .base import BaseTuning

# Parts of the fused ``qkv`` linear, in its output order.
QKV_PARTS = ('q', 'k', 'v')
TARGETS = QKV_PARTS + ('qkv', 'proj')


@TUNINGS.register_module(name='LoRA')
class LoRATuning(BaseTuning):
    """LoRA (Hu et al., ICLR 2022): ``W x + (alpha / rank) * B A x`` on linears
    of every block's window attention, through forward hooks, so the Swin's
    keys stay upstream's. ``A`` (``rank x in``) is Kaiming-uniform, ``B``
    (``out x rank``) zero. :meth:`merge` folds the update into the frozen
    weights for inference and records it in the ``tuning.merged`` buffer
    (a bool, in the state dict once merged), so a merged model saved and
    loaded into a fresh one adds the update once.

    Targets: ``'qkv'`` (one update of the whole fused ``C -> 3C`` linear),
    ``'q'``, ``'k'``, ``'v'`` (one update per part of the fused linear, its
    own ``C -> C`` slice, as loralib's ``MergedLinear`` with ``enable_lora``)
    and ``'proj'``.

    Defaults (LoRA's published setting as this project uses it): ``rank=8``,
    ``alpha=8`` on ``qkv`` and ``proj`` (Swin-B 0.58 M). The E3VA paper's
    budget (Swin-B 3.03 M, Swin-L 4.57 M reported) is rank 64 on the query
    and value parts, ``dict(type='LoRA', rank=64, alpha=1, targets=('q',
    'v'))`` (``alpha=1`` is loralib's default, as in the authors' code):
    Swin-B 3.08 M, Swin-L 4.62 M; the paper configs use it.

    State-dict keys: ``tuning.lora_down.<site>.weight``,
    ``tuning.lora_up.<site>.weight`` (``<site>`` like ``s2_b5_q``) and,
    once merged, ``tuning.merged``.

    Args:
        rank (int): Rank of every update. Defaults to 8.
        alpha (float): The update is scaled by ``alpha / rank``. Defaults
            to 8.
        targets (tuple[str]): Which linears (or fused-qkv parts) get an
            update, from ``('q', 'k', 'v', 'qkv', 'proj')``; ``'qkv'`` does
            not combine with its parts. Defaults to ``('qkv', 'proj')``.
    """

    def __init__(self, rank=8, alpha=8, targets=('qkv', 'proj')):
        super().__init__()
        if not isinstance(rank, int) or rank <= 0:
            raise ValueError(f'LoRA: rank must be a positive integer, got '
                             f'{rank!r}')
        targets = tuple(targets)
        unknown = [t for t in targets if t not in TARGETS]
        if (not targets or unknown or len(set(targets)) != len(targets)
                or ('qkv' in targets and set(targets) & set(QKV_PARTS))):
            raise ValueError(
                f'LoRA: targets={targets!r} must be distinct names from '
                f"{TARGETS}, without 'qkv' together with its parts")
        self.rank = rank
        self.scaling = alpha / rank
        self.targets = targets
        # In the state dict only once merged, so that checkpoints of unmerged
        # models keep the keys they always had.
        self.register_buffer('merged', torch.tensor(False), persistent=False)
        # ``merged`` as a Python bool: the forward hooks read it without a
        # device sync.
        self._merged = False

    def _sites(self):
        """``{linear_name: [(target, part), ...]}``: ``part`` is the index of
        a fused-qkv part, None for a whole linear."""
        sites = {}
        for target in self.targets:
            if target in QKV_PARTS:
                sites.setdefault('qkv', []).append(
                    (target, QKV_PARTS.index(target)))
            else:
                sites.setdefault(target, []).append((target, None))
        return sites

    def attach(self, swin):
        self.lora_down, self.lora_up = ModuleDict(), ModuleDict()
        for i, stage in enumerate(swin.stages):
            for j, block in enumerate(stage.blocks):
                for name, parts in self._sites().items():
                    linear = getattr(block.attn.w_msa, name)
                    updates = []
                    for target, part in parts:
                        site = f's{i}_b{j}_{target}'
                        self.lora_down[site] = nn.Linear(
                            linear.in_features, self.rank, bias=False)
                        self.lora_up[site] = nn.Linear(
                            self.rank, linear.out_features //
                            (1 if part is None else len(QKV_PARTS)),
                            bias=False)
                        updates.append((site, part))
                    linear.register_forward_hook(
                        functools.partial(self._add_updates, updates))
        self.init_weights()

    def init_weights(self):
        for down in self.lora_down.values():
            nn.init.kaiming_uniform_(down.weight, a=math.sqrt(5))
        for up in self.lora_up.values():
            nn.init.zeros_(up.weight)

    def _update(self, site, x):
        return self.scaling * self.lora_up[site](self.lora_down[site](x))

    def _record_merged(self):
        """``tuning.merged`` joins the state dict."""
        self._non_persistent_buffers_set.discard('merged')

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if prefix + 'merged' in state_dict:
            self._record_merged()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._merged = bool(self.merged)

    def _add_updates(self, updates, linear, inputs, output):
        if self._merged:
            return output
        x = inputs[0]
        if updates[0][1] is None:  # a whole linear
            return output + self._update(updates[0][0], x)
        # Parts of the fused qkv; a part without LoRA gets a zero update.
        width = output.shape[-1] // len(QKV_PARTS)
        by_part = {part: site for site, part in updates}
        return output + torch.cat([
            self._update(by_part[p], x) if p in by_part else
            output.new_zeros(*output.shape[:-1], width)
            for p in range(len(QKV_PARTS))
        ], dim=-1)

    @torch.no_grad()
    def merge(self, swin):
        """Fold ``scaling * B A`` into the frozen linears (their output
        slices for parts of the fused qkv) and stop adding the update in
        the forward (for inference); ``tuning.merged`` records it.

        Raises:
            RuntimeError: the update is merged already.
        """
        if self._merged:
            raise RuntimeError('LoRA: the update is merged already '
                               '(tuning.merged is True)')
        for i, stage in enumerate(swin.stages):
            for j, block in enumerate(stage.blocks):
                for name, parts in self._sites().items():
                    weight = getattr(block.attn.w_msa, name).weight
                    for target, part in parts:
                        site = f's{i}_b{j}_{target}'
                        rows = (slice(None) if part is None else slice(
                            part * weight.shape[0] // len(QKV_PARTS),
                            (part + 1) * weight.shape[0] // len(QKV_PARTS)))
                        weight[rows] += (self.scaling
                                         * self.lora_up[site].weight
                                         @ self.lora_down[site].weight)
        self.merged.fill_(True)
        self._record_merged()
        self._merged = True
