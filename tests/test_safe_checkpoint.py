"""Checkpoints load with weights_only=True: mmengine's own numpy/HistoryBuffer
content is allowlisted, anything else is refused with a clear error; damaged
and truncated files are refused naming the file."""
import io

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader

from mmdet_e3va.utils import (CorruptCheckpointError, UnsafeCheckpointError,
                              safe_checkpoint)


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


def _save_with_records(path, **extra):
    """A checkpoint with a weight and an optimizer state of known bytes."""
    weight = torch.arange(4096, dtype=torch.float32)
    ckpt = dict(state_dict={'w': weight},
                optimizer=dict(state={0: dict(exp_avg=weight * 3)}), **extra)
    torch.save(ckpt, path)
    return weight


@pytest.mark.parametrize('record', ['weight', 'optimizer'])
def test_damaged_record_is_refused(tmp_path, record):
    path = tmp_path / 'flipped.pth'
    weight = _save_with_records(path)
    data = bytearray(path.read_bytes())
    target = (weight if record == 'weight' else weight * 3).numpy().tobytes()
    start = data.find(target) + 1024
    assert start > 1024
    span = slice(start, start + 256)
    if record == 'weight':  # flipped bits
        data[span] = bytes(255 - b for b in data[span])
    else:  # zeroed bytes
        data[span] = bytes(256)
    path.write_bytes(bytes(data))
    # torch alone reads the damaged file without complaint
    loaded = torch.load(path, weights_only=True)
    assert not torch.equal(loaded['state_dict']['w'], weight) or not \
        torch.equal(loaded['optimizer']['state'][0]['exp_avg'], weight * 3)
    with pytest.raises(CorruptCheckpointError,
                       match=r'flipped\.pth is damaged.*CRC-32'):
        _load(path)


def test_truncated_file_is_named(tmp_path):
    path = tmp_path / 'truncated.pth'
    _save_with_records(path)
    path.write_bytes(path.read_bytes()[:-3000])
    with pytest.raises(CorruptCheckpointError, match='truncated.pth'):
        _load(path)


def test_legacy_format_loads_weights_only(tmp_path):
    """Pre-zip (torch < 1.6) files carry no checksums; they still load
    weights-only, and a pickled object in them is refused."""
    torch.save(dict(state_dict={'w': torch.ones(3)}), tmp_path / 'old.pth',
               _use_new_zipfile_serialization=False)
    assert torch.equal(_load(tmp_path / 'old.pth')['state_dict']['w'],
                       torch.ones(3))
    torch.save(dict(extra=Payload()), tmp_path / 'old_evil.pth',
               _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeCheckpointError,
                       match=r'old_evil\.pth.*Payload'):
        _load(tmp_path / 'old_evil.pth')


def test_garbled_legacy_file_is_damaged_not_unsafe(tmp_path):
    """torch wraps every weights-only unpickling error as "Weights only
    load failed"; garbled pickle data is still reported as damage."""
    path = tmp_path / 'garbled.pth'
    torch.save(dict(state_dict={'w': torch.ones(3)}), path,
               _use_new_zipfile_serialization=False)
    data = bytearray(path.read_bytes())
    key = data.find(b'state_dict')
    assert data[key - 5] == ord('X')  # the key's BINUNICODE opcode
    data[key - 5] = 0xFF  # no pickle opcode
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError,
                       match=r'garbled\.pth is damaged: Unsupported operand'):
        _load(path)


def test_legacy_file_loads_from_object_storage(monkeypatch):
    """``s3://``/``petrel://`` checkpoints are read into memory; a legacy
    one loads from there (the integrity check rewinds the buffer)."""
    buffer = io.BytesIO()
    torch.save(dict(state_dict={'w': torch.arange(3.)}), buffer,
               _use_new_zipfile_serialization=False)
    stored = {'s3://bucket/old.pth': buffer.getvalue()}

    class Backend:

        @staticmethod
        def get(filepath):
            return stored[filepath]

    monkeypatch.setattr(safe_checkpoint, 'get_file_backend',
                        lambda *args, **kwargs: Backend)
    loaded = _load('s3://bucket/old.pth')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.))
