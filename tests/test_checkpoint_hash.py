"""A checkpoint whose file name carries a sha256 prefix (torch.hub's
``name-<prefix>.ext``) is checked against it, as torch.hub's
``check_hash=True`` does: when downloaded (from a real HTTP server on
127.0.0.1) and when taken from torch.hub's cache."""
import hashlib

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from mmdet_e3va.utils import CorruptCheckpointError
from test_checkpoint_trust import served  # noqa: F401  (fixture)


def _checkpoint(path):
    torch.save(dict(state_dict=dict(w=torch.arange(10.))), path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_is_checked_against_its_name(served, tmp_path):  # noqa: F811
    root, url = served
    digest = _checkpoint(tmp_path / 'ckpt.pth')
    good, bad = f'swin-{digest[:8]}.pth', f'swin-{digest[8:16]}.pth'
    for name in (good, bad):
        (root / name).write_bytes((tmp_path / 'ckpt.pth').read_bytes())
    cache = tmp_path / 'torch_home/hub/checkpoints'

    state = CheckpointLoader.load_checkpoint(f'{url}/{good}')['state_dict']
    assert torch.equal(state['w'], torch.arange(10.))
    with pytest.raises(CorruptCheckpointError,
                       match=rf'{bad} \(downloaded\) fails its hash check: '
                       rf'.*prefix {digest[8:16]}, .*hashes to {digest}'):
        CheckpointLoader.load_checkpoint(f'{url}/{bad}')
    assert sorted(p.name for p in cache.iterdir()) == [good]  # not cached


def test_cached_file_is_checked_against_its_name(
        served, tmp_path):  # noqa: F811
    root, url = served
    digest = _checkpoint(tmp_path / 'ckpt.pth')
    name = f'swin-{digest[:8]}.pth'
    (root / name).write_bytes((tmp_path / 'ckpt.pth').read_bytes())
    CheckpointLoader.load_checkpoint(f'{url}/{name}')
    cached = tmp_path / 'torch_home/hub/checkpoints' / name
    torch.save(dict(state_dict=dict(w=torch.zeros(10))), cached)  # replaced
    with pytest.raises(CorruptCheckpointError,
                       match=rf'{name} \(cached download of {url}/{name}; '
                       r'delete it to download it again\) fails its hash'):
        CheckpointLoader.load_checkpoint(f'{url}/{name}')

    unhashed = 'swin_base_patch4_window7_224.pth'  # no prefix: not checked
    (root / unhashed).write_bytes((tmp_path / 'ckpt.pth').read_bytes())
    CheckpointLoader.load_checkpoint(f'{url}/{unhashed}')
