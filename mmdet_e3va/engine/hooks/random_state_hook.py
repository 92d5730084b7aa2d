"""Random states in checkpoints, so that a resumed run draws the same
augmentation and dropout as an uninterrupted one."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from ...registry import register_hook


def get_random_states():
    """The python, numpy, torch (and CUDA) generator states."""
    states = dict(python=random.getstate(), numpy=np.random.get_state(),
                  torch=torch.get_rng_state())
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states):
    """Restore what :func:`get_random_states` returned."""
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class _RestoreAfterSkip:
    """Wraps a train loop's data iterator: after the ``skip`` batches that a
    resumed iteration-based loop replays, restore ``states`` before the next
    batch is drawn (replaying them draws random numbers in the main process
    when ``num_workers=0``)."""

    def __init__(self, iterator, skip, states):
        self._iterator, self._skip, self._states = iterator, skip, states

    def __getattr__(self, name):
        return getattr(self._iterator, name)

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0 and self._states is not None:
            set_random_states(self._states)
            self._states = None
        self._skip -= 1
        return next(self._iterator)


@register_hook
class RandomStateHook(Hook):
    """Saves the random states of rank 0 in every checkpoint
    (``checkpoint['random_states']``) and restores them on resume: at the
    iteration the run stopped (after the replayed batches of an
    iteration-based loop), or at the start of an epoch-based loop's next
    epoch. The project's configs declare it in ``custom_hooks``."""

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending = None

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint['random_states'] = get_random_states()

    def after_load_checkpoint(self, runner, checkpoint):
        if runner._resume:  # not for load_from or tools/test.py
            self._pending = checkpoint.get('random_states')
            if self._pending is None:
                runner.logger.warning(
                    'RandomStateHook: the checkpoint holds no random states; '
                    'the resumed run will draw other random numbers')

    def before_train(self, runner):
        if self._pending is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop.dataloader_iterator, loop.iter, self._pending)
        else:
            set_random_states(self._pending)
        self._pending = None
