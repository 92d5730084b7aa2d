"""Checkpoint loading that stays ``weights_only=True`` on torch>=2.6.

mmengine 0.10.7 pickles a few numpy and mmengine objects into its
checkpoints (message hub history, seeds, dataset meta), which the weights-only
unpickler refuses by default. Only those types are allowlisted; any other
pickled object is refused with :class:`UnsafeCheckpointError`.

``HistoryBuffer.__getstate__`` also pickles its statistics functions, which
would need ``getattr`` allowlisted (unsafe: it reaches any attribute). They
are class-level and restored by ``__setstate__`` anyway, so they are left out
of the pickled state; checkpoints written before that stay refused.
"""
import pickle
import re

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside the allowlist."""


def mmengine_checkpoint_globals():
    """The numpy/mmengine types mmengine writes into checkpoints."""
    dtypes = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
              np.uint16, np.uint32, np.uint64, np.float16, np.float32,
              np.float64)
    return [
        np.core.multiarray._reconstruct, np.core.multiarray.scalar,
        np.ndarray, np.dtype, HistoryBuffer,
        *(type(np.dtype(t)) for t in dtypes)
    ]


def _history_buffer_state(self):
    """``HistoryBuffer`` state without its (class-level) statistics."""
    return {k: v for k, v in self.__dict__.items()
            if k != 'statistics_methods'}


def load_local_checkpoint(filename, map_location=None):
    """mmengine's local loader, with a refusal that names the file."""
    try:
        return load_from_local(filename, map_location)
    except pickle.UnpicklingError as err:
        found = re.search(r'Unsupported global: GLOBAL (\S+)', str(err))
        culprit = found.group(1) if found else str(err).splitlines()[0]
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {filename}: it holds a pickled '
            f'object ({culprit}) outside the weights-only allowlist of '
            f'mmdet_e3va.utils.safe_checkpoint') from err


def install_safe_checkpoint_loading():
    """Allowlist mmengine's checkpoint types for ``torch.load`` and route
    local checkpoint files through :func:`load_local_checkpoint`."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    HistoryBuffer.__getstate__ = _history_buffer_state
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
