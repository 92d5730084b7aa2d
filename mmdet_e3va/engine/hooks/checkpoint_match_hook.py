"""Refuse a checkpoint that does not fit the model of the config, before it
is loaded (mmengine only warns about mismatches and carries on)."""
import re

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel
from mmengine.runner import BaseLoop

from ...models.backbones.tuned_swin import TUNING_PREFIX, TunedSwinTransformer
from ...registry import register_hook
from ...utils import unwrap_model


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys or shapes do not match the model."""


def _examples(keys, limit=5):
    return ', '.join(keys[:limit]) + (', ...' if len(keys) > limit else '')


def check_checkpoint_matches(model, state_dict, filename,
                             allow_fresh_tuning=False):
    """Raise :class:`CheckpointMismatchError` naming the offending keys of
    ``state_dict`` (read from ``filename``) for ``model`` when it

    - holds a key the model lacks, or one of a different shape;
    - lacks a key of the model, except the frozen weights and buffers of a
      tuned Swin backbone when it holds none of them (an adapter-only
      checkpoint: the backbone restores them from its base) and, with
      ``allow_fresh_tuning``, a tuned backbone's ``tuning.*`` modules (an
      upstream checkpoint given as ``load_from``: they keep their
      initialisation). ``num_batches_tracked`` buffers may be absent.
    """
    state = {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}
    expected = model.state_dict()
    optional = set()
    for name, module in model.named_modules():
        if not isinstance(module, TunedSwinTransformer):
            continue
        prefix = f'{name}.' if name else ''
        frozen = {prefix + n for n, p in module.named_parameters()
                  if not p.requires_grad}
        if not frozen & set(state):
            optional |= frozen | {prefix + n for n, _ in
                                  module.named_buffers()}
        if allow_fresh_tuning:
            optional |= {k for k in expected
                         if k.startswith(prefix + TUNING_PREFIX)}
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}'
              for k in state if k in expected
              and hasattr(state[k], 'shape')
              and state[k].shape != expected[k].shape]
    unknown = [k for k in state if k not in expected]
    missing = [k for k in expected if k not in state and k not in optional
               and not k.endswith('num_batches_tracked')]
    problems = [
        f'{len(found)} {what}: {_examples(found)}'
        for found, what in ((shapes, 'keys of another shape (checkpoint vs '
                             'model)'), (missing, 'keys of the model missing'),
                            (unknown, 'keys unknown to the model'))
        if found
    ]
    if problems:
        raise CheckpointMismatchError(
            f'Checkpoint {filename} does not match the model of the config: '
            + '; '.join(problems))


@register_hook
class CheckpointMatchHook(Hook):
    """Checks every checkpoint the runner loads (``load_from``, resume,
    testing) with :func:`check_checkpoint_matches` before it reaches the
    model. A ``load_from`` that starts a training run may lack the tuning
    modules (an upstream detector or segmentor checkpoint); a resumed or
    tested checkpoint may not. The project's configs declare it in
    ``custom_hooks``."""

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint):
        model = unwrap_model(runner.model)
        if isinstance(model, BaseTTAModel):
            model = model.module
        filename = runner._load_from or 'the latest checkpoint'
        # Runner.train() builds its loop before it loads; test() does not.
        training = isinstance(runner._train_loop, BaseLoop)
        check_checkpoint_matches(
            model, checkpoint.get('state_dict', checkpoint), filename,
            allow_fresh_tuning=training and not runner._resume)
