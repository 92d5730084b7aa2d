"""Methods that add nothing and only choose which Swin parameters train."""
import torch.nn as nn

from ...registry import TUNINGS
from .base import BaseTuning


@TUNINGS.register_module(name='Full')
class FullFineTuning(BaseTuning):
    """Full fine-tuning: every Swin parameter trains."""

    def swin_param_trainable(self, name):
        return True


@TUNINGS.register_module(name='Frozen')
class FrozenBackbone(BaseTuning):
    """Frozen backbone: nothing in the Swin trains (neck and heads do); the
    Swin stays in eval mode."""

    frozen_eval = True


@TUNINGS.register_module(name='BitFit')
class BitFit(BaseTuning):
    """BitFit (Ben Zaken et al., ACL 2022): the Swin's biases train.

    Default (BitFit's own): the bias vectors, names ending in ``.bias``
    (Swin-B 0.14 M, Swin-L 0.21 M). The E3VA paper's budget (Swin-B 0.20 M,
    Swin-L 0.30 M) is every parameter whose name contains ``bias``, which
    takes in the relative position bias tables (Swin-B 0.138 M + 0.064 M):
    ``position_bias_tables=True``, as the paper configs set.

    Args:
        position_bias_tables (bool): Train the ``relative_position_bias_table``
            parameters too. Defaults to False.
    """

    def __init__(self, position_bias_tables=False):
        super().__init__()
        self.position_bias_tables = position_bias_tables

    def swin_param_trainable(self, name):
        if self.position_bias_tables:
            return 'bias' in name
        return name.endswith('.bias')


@TUNINGS.register_module(name='LNTune')
class LayerNormTuning(BaseTuning):
    """LN-tune: only the Swin's LayerNorm weights and biases train (block
    norms, patch embedding/merging norms, output norms)."""

    def attach(self, swin):
        self._names = {
            f'{prefix}.{name}'
            for prefix, module in swin.named_modules()
            if isinstance(module, nn.LayerNorm)
            for name, _ in module.named_parameters()
        }

    def swin_param_trainable(self, name):
        return name in self._names


@TUNINGS.register_module(name='Partial')
class PartialTuning(BaseTuning):
    """Partial-k: only the last ``num_blocks`` blocks of the last stage
    train (Partial-1 with the default ``num_blocks=1``; Yosinski et al.,
    NeurIPS 2014, as used by the E3VA paper)."""

    def __init__(self, num_blocks=1):
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f'Partial: num_blocks must be >= 1, got '
                             f'{num_blocks}')
        self.num_blocks = num_blocks

    def attach(self, swin):
        last = len(swin.stages) - 1
        depth = len(swin.stages[last].blocks)
        if self.num_blocks > depth:
            raise ValueError(f'Partial: num_blocks={self.num_blocks} exceeds '
                             f'the last stage depth {depth}')
        self._prefixes = tuple(f'stages.{last}.blocks.{j}.'
                               for j in range(depth - self.num_blocks, depth))

    def swin_param_trainable(self, name):
        return name.startswith(self._prefixes)
