"""Per-iteration wall time and peak memory in the training log."""
import time

import torch
from mmengine.hooks import Hook

from ...registry import register_hook
from ...utils import SavedTensorMeter, peak_rss_bytes, unwrap_model


@register_hook
class EfficiencyHook(Hook):
    """Logs, per training iteration (``train_step``: forward, backward and
    optimizer step, without data loading), through the message hub:

    - ``train/step_time``: wall seconds;
    - on CUDA: ``train/cuda_peak_mem_mb``, ``torch.cuda.max_memory_allocated``
      since the iteration began;
    - on CPU: ``train/saved_for_backward_mb``, the bytes autograd saved
      for backward (parameters excluded), and ``train/peak_rss_mb``, the
      process's peak resident memory so far.
    """

    priority = 'VERY_HIGH'  # brackets the step; scalars ready for logging

    def __init__(self):
        self._start = None
        self._meter = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self._meter = SavedTensorMeter(
                exclude=unwrap_model(runner.model).parameters())
            self._meter.__enter__()
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        hub = runner.message_hub
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.synchronize()
        hub.update_scalar('train/step_time', time.perf_counter() - self._start)
        if cuda:
            hub.update_scalar('train/cuda_peak_mem_mb',
                              torch.cuda.max_memory_allocated() / 2**20)
            return
        self._meter.__exit__(None, None, None)
        hub.update_scalar('train/saved_for_backward_mb',
                          self._meter.nbytes / 2**20)
        hub.update_scalar('train/peak_rss_mb', peak_rss_bytes() / 2**20)
        self._meter = None
