"""Per-iteration wall time and peak memory in the training log."""
import time

import torch
from mmengine.hooks import Hook

from ...registry import register_hook
from ...utils import (PeakMemoryMeter, peak_rss_bytes, state_tensors,
                      unwrap_model)


@register_hook
class EfficiencyHook(Hook):
    """Logs, per training iteration (``train_step``: forward, backward and
    optimizer step, without data loading), through the message hub:

    - ``train/step_time``: wall seconds;
    - ``train/peak_mem_mb``: the peak of live tensor memory during the
      iteration (:class:`~mmdet_e3va.utils.PeakMemoryMeter`): on CUDA
      ``torch.cuda.max_memory_allocated``, every iteration; on CPU the
      parameters, buffers, gradients, optimizer state and batch alive at
      its start plus the peak of what it allocates (torch.profiler memory
      events), measured on every ``memory_interval``-th iteration (the
      first included), since the profiler slows those iterations (their
      ``step_time`` includes it) and a training step's peak repeats;
    - on CPU also ``train/peak_rss_mb``, the process's peak resident
      memory so far.

    Args:
        memory_interval (int): On CPU, profile the memory of every n-th
            iteration. Defaults to 10.
    """

    priority = 'VERY_HIGH'  # brackets the step; scalars ready for logging

    def __init__(self, memory_interval=10):
        if not isinstance(memory_interval, int) or memory_interval < 1:
            raise ValueError(f'EfficiencyHook: memory_interval must be a '
                             f'positive integer, got {memory_interval!r}')
        self.memory_interval = memory_interval
        self._start = None
        self._meter = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        cuda = torch.cuda.is_available()
        if not cuda and runner.iter % self.memory_interval:
            self._start = time.perf_counter()
            return
        state = state_tensors(unwrap_model(runner.model),
                              getattr(runner.optim_wrapper, 'optimizer', None))
        inputs = (data_batch or {}).get('inputs', [])
        state += [t for t in inputs if torch.is_tensor(t)]
        self._meter = PeakMemoryMeter('cuda' if cuda else 'cpu', state)
        self._meter.__enter__()
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        hub = runner.message_hub
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        hub.update_scalar('train/step_time', time.perf_counter() - self._start)
        if self._meter is not None:
            self._meter.__exit__(None, None, None)
            hub.update_scalar('train/peak_mem_mb',
                              self._meter.peak_bytes / 2**20)
        if not torch.cuda.is_available():
            hub.update_scalar('train/peak_rss_mb', peak_rss_bytes() / 2**20)
        self._meter = None
