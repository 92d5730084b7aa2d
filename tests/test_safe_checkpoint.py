"""Checkpoints load with weights_only=True: mmengine's own numpy/HistoryBuffer
content is allowlisted, anything else is refused with a clear error."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader

from mmdet_e3va.utils import UnsafeCheckpointError


class Payload:
    """An arbitrary pickled object (a stand-in for a malicious one)."""


def _load(path):
    return CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_mmengine_checkpoint_content_loads(tmp_path):
    hub = MessageHub.get_instance('safe-checkpoint-test')
    for value in (1.0, 2.0, 4.0):
        hub.update_scalar('train/loss', value)
    hub.update_info('seed', np.int64(3), resumed=True)
    ckpt = dict(
        meta=dict(seed=np.int64(3), ratio=np.float64(0.5),
                  table=np.arange(6, dtype=np.float32).reshape(2, 3)),
        message_hub=hub.state_dict(),
        state_dict={'w': torch.ones(2)})
    torch.save(ckpt, tmp_path / 'ok.pth')
    loaded = _load(tmp_path / 'ok.pth')
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(7 / 3)
    assert buffer.current() == 4.0
    np.testing.assert_array_equal(loaded['meta']['table'],
                                  ckpt['meta']['table'])
    assert loaded['meta']['seed'] == 3


def test_arbitrary_pickled_object_is_refused(tmp_path):
    torch.save(dict(state_dict={'w': torch.ones(2)}, extra=Payload()),
               tmp_path / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError) as err:
        _load(tmp_path / 'evil.pth')
    assert 'evil.pth' in str(err.value)
    assert 'Payload' in str(err.value)
