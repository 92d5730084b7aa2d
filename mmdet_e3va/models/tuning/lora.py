"""LoRA on the attention projections of every Swin block."""
import functools
import math

import torch
import torch.nn as nn
from mmengine.model import ModuleDict

from ...registry import TUNINGS
from .base import BaseTuning


@TUNINGS.register_module(name='LoRA')
class LoRATuning(BaseTuning):
    """LoRA (Hu et al., ICLR 2022): ``W x + (alpha / rank) * B A x`` on the
    ``qkv`` and ``proj`` linears of every block's window attention, through
    forward hooks, so the Swin's keys stay upstream's. Defaults: ``rank=8``,
    ``alpha=8``; ``A`` Kaiming-uniform, ``B`` zero. :meth:`merge` folds the
    update into the frozen weights for inference.

    State-dict keys: ``tuning.lora_down.<site>.weight`` (``rank x in``) and
    ``tuning.lora_up.<site>.weight`` (``out x rank``), ``<site>`` like
    ``s2_b5_qkv``.
    """

    def __init__(self, rank=8, alpha=8, targets=('qkv', 'proj')):
        super().__init__()
        if rank <= 0:
            raise ValueError(f'LoRA: rank must be positive, got {rank}')
        self.rank = rank
        self.scaling = alpha / rank
        self.targets = tuple(targets)
        self.merged = False

    def attach(self, swin):
        self.lora_down, self.lora_up = ModuleDict(), ModuleDict()
        for i, stage in enumerate(swin.stages):
            for j, block in enumerate(stage.blocks):
                for target in self.targets:
                    linear = getattr(block.attn.w_msa, target)
                    site = f's{i}_b{j}_{target}'
                    self.lora_down[site] = nn.Linear(
                        linear.in_features, self.rank, bias=False)
                    self.lora_up[site] = nn.Linear(
                        self.rank, linear.out_features, bias=False)
                    linear.register_forward_hook(
                        functools.partial(self._add_update, site))
        self.init_weights()

    def init_weights(self):
        for down in self.lora_down.values():
            nn.init.kaiming_uniform_(down.weight, a=math.sqrt(5))
        for up in self.lora_up.values():
            nn.init.zeros_(up.weight)

    def _add_update(self, site, linear, inputs, output):
        if self.merged:
            return output
        update = self.lora_up[site](self.lora_down[site](inputs[0]))
        return output + self.scaling * update

    @torch.no_grad()
    def merge(self, swin):
        """Fold ``scaling * B A`` into the frozen linears and stop adding
        the update in the forward (for inference)."""
        for i, stage in enumerate(swin.stages):
            for j, block in enumerate(stage.blocks):
                for target in self.targets:
                    site = f's{i}_b{j}_{target}'
                    getattr(block.attn.w_msa, target).weight += (
                        self.scaling * self.lora_up[site].weight
                        @ self.lora_down[site].weight)
        self.merged = True
