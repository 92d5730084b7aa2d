"""Methods that add nothing and only choose which Swin parameters train."""
import torch.nn as nn

from ...registry import TUNINGS
from .base import BaseTuning


@TUNINGS.register_module(name='Full')
class FullFineTuning(BaseTuning):
    """Full fine-tuning: every Swin parameter trains."""

    def swin_param_trainable(self, name):
        return True


@TUNINGS.register_module(name='FullExcept')
class FullFineTuningExcept(FullFineTuning):
    """Full fine-tuning with some Swin parameters frozen: those whose names
    start with one of ``frozen_prefixes`` (e.g. ``('patch_embed.', )``, the
    stem that no adapter method trains), to find where full fine-tuning's
    gain sits.

    Args:
        frozen_prefixes (Sequence[str]): Name prefixes of the Swin
            parameters (``SwinTransformer.named_parameters``) that stay
            frozen; each must match at least one parameter.
    """

    def __init__(self, frozen_prefixes):
        super().__init__()
        if (isinstance(frozen_prefixes, str) or not frozen_prefixes or
                not all(isinstance(p, str) and p for p in frozen_prefixes)):
            raise ValueError(
                'FullExcept: frozen_prefixes must be a non-empty sequence of '
                f'non-empty parameter name prefixes, got {frozen_prefixes!r}')
        self.frozen_prefixes = tuple(frozen_prefixes)

    def attach(self, swin):
        names = [name for name, _ in swin.named_parameters()]
        unmatched = [p for p in self.frozen_prefixes
                     if not any(n.startswith(p) for n in names)]
        if unmatched:
            raise ValueError(f'FullExcept: frozen_prefixes {unmatched} match '
                             'no Swin parameter (e.g. patch_embed., '
                             'stages.0.)')

    def swin_param_trainable(self, name):
        return not name.startswith(self.frozen_prefixes)


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
