"""Checkpoints users can trust: every loading route (local files and
downloads from a real HTTP server on 127.0.0.1) is weights-only, missing
checkpoint paths are named up front, and a killed-and-resumed run equals an
uninterrupted one bitwise."""
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader

from conftest import ROOT, SEG_DEMO
from mmdet_e3va.engine.checkpoint_paths import check_checkpoint_paths
from mmdet_e3va.models import E3VASwinTransformer
from mmdet_e3va.utils import UnsafeCheckpointError
from mmdet_e3va.utils.safe_checkpoint import SAFE_LOADERS

TINY = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


class _Payload:
    """Unpickling it runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class _QuietHandler(SimpleHTTPRequestHandler):

    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """``(directory, base URL)`` of an HTTP server on 127.0.0.1; torch.hub's
    cache goes to a fresh ``TORCH_HOME``."""
    root = tmp_path / 'served'
    root.mkdir()
    server = ThreadingHTTPServer(
        ('127.0.0.1', 0),
        functools.partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('NO_PROXY', '127.0.0.1')
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


@pytest.fixture
def malicious(tmp_path):
    """A checkpoint whose unpickling writes a marker file, and the marker."""
    marker = tmp_path / 'payload_ran'
    swin = E3VASwinTransformer(**TINY)
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=swin.state_dict(), meta=_Payload(marker)),
               path)
    # The file is really malicious: an unsafe load runs the payload.
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    return path, marker


def test_every_mmengine_prefix_has_a_weights_only_loader():
    safe = set(SAFE_LOADERS.values())
    assert set(CheckpointLoader._schemes.values()) <= safe
    for path in ('x.pth', 'http://h/x.pth', 'https://h/x.pth',
                 'torchvision://resnet50', 'open-mmlab://x', 'mmcls://x',
                 's3://b/x.pth', 'pavi://x'):
        assert CheckpointLoader._get_checkpoint_loader(path) in safe, path


def test_malicious_download_is_refused_via_init_cfg(served, malicious):
    root, url = served
    path, marker = malicious
    (root / 'evil.pth').write_bytes(path.read_bytes())
    model = E3VASwinTransformer(
        **TINY, init_cfg=dict(type='Pretrained', checkpoint=f'{url}/evil.pth'))
    with pytest.raises(UnsafeCheckpointError,
                       match=r'evil\.pth.*downloaded from http.*'
                       r'posix\.system'):
        model.init_weights()
    assert not marker.exists()

    # A genuine checkpoint takes the same route and loads.
    swin = E3VASwinTransformer(**TINY)
    torch.save(swin.state_dict(), root / 'good.pth')
    model = E3VASwinTransformer(
        **TINY, init_cfg=dict(type='Pretrained', checkpoint=f'{url}/good.pth'))
    model.init_weights()
    key = 'stages.0.blocks.0.attn.w_msa.qkv.weight'
    assert torch.equal(model.state_dict()[key], swin.state_dict()[key])


def test_open_mmlab_download_is_refused(served, malicious, tmp_path,
                                        monkeypatch):
    """``open-mmlab://name`` resolves through ``$MMENGINE_HOME``'s model list
    to a URL, and is as weights-only as any other download."""
    root, url = served
    path, marker = malicious
    (root / 'evil.pth').write_bytes(path.read_bytes())
    home = tmp_path / 'mmengine_home'
    home.mkdir()
    (home / 'open_mmlab.json').write_text(
        json.dumps(dict(evil_swin=f'{url}/evil.pth')))
    monkeypatch.setenv('MMENGINE_HOME', str(home))
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        CheckpointLoader.load_checkpoint('open-mmlab://evil_swin')
    assert not marker.exists()


def test_force_no_weights_only_env_does_not_reopen_local_files(
        malicious, monkeypatch):
    path, marker = malicious
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        CheckpointLoader.load_checkpoint(str(path))
    assert not marker.exists()


def _run(script, *args, cwd, env=None):
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / script)] +
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
        timeout=600, env=env)
    return result.returncode, result.stdout + result.stderr


def test_tools_test_refuses_malicious_download(served, malicious, workspace):
    root, url = served
    path, marker = malicious
    (root / 'evil.pth').write_bytes(path.read_bytes())
    rc, out = _run('test.py', SEG_DEMO, f'{url}/evil.pth', '--work-dir',
                   path.parent / 'work', cwd=workspace, env=dict(os.environ))
    assert rc != 0
    assert 'UnsafeCheckpointError' in out, out[-3000:]
    assert 'posix.system' in out
    assert not marker.exists()


def test_missing_checkpoints_are_named_up_front(workspace, tmp_path):
    cfg = Config.fromfile(SEG_DEMO)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'no_base.pth')
    with pytest.raises(FileNotFoundError,
                       match='model.backbone.init_cfg.checkpoint: .*no_base'):
        check_checkpoint_paths(cfg)
    cfg.model.backbone.init_cfg.checkpoint = 'https://example.com/a.pth'
    check_checkpoint_paths(cfg)  # URLs are not checked

    rc, out = _run('test.py', SEG_DEMO, tmp_path / 'no_ckpt.pth',
                   '--work-dir', tmp_path / 'work', cwd=workspace)
    assert rc != 0
    assert 'load_from: checkpoint' in out and 'no_ckpt.pth' in out
    assert not (tmp_path / 'work').exists()  # nothing built before the check


def _iteration_losses(work_dir):
    losses = {}
    for scalars in work_dir.glob('*/vis_data/scalars.json'):
        for line in scalars.read_text().splitlines():
            row = json.loads(line)
            if 'loss' in row:
                losses[row['step']] = row['loss']
    return losses


def test_kill_and_resume_equals_uninterrupted(workspace, tmp_path):
    """The seg demo (random resize/crop/flip in a data worker, dropout in
    the decode head) for 4 iterations, checkpoints every 2: a run killed
    after its iteration-2 checkpoint and resumed with ``--resume`` (which
    takes the seed from the checkpoint) ends with the same weights and
    losses, bitwise, as an uninterrupted run with the same seed."""
    options = ['--cfg-options', 'train_cfg.max_iters=4',
               'default_hooks.checkpoint.interval=2',
               'default_hooks.logger.interval=1']
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    rc, out = _run('train.py', SEG_DEMO, '--work-dir', whole, *options,
                   'randomness.seed=0', cwd=workspace)
    assert rc == 0, out[-3000:]

    process = subprocess.Popen(
        [sys.executable, str(ROOT / 'tools/train.py'), str(SEG_DEMO),
         '--work-dir', str(killed), *options, 'randomness.seed=0'],
        cwd=workspace,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed / 'last_checkpoint'
    deadline = time.time() + 600
    while not (last.exists() and 'iter_2' in last.read_text()):
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / 'iter_4.pth').exists()

    rc, out = _run('train.py', SEG_DEMO, '--work-dir', killed, '--resume',
                   *options, cwd=workspace)
    assert rc == 0, out[-3000:]
    assert 'resumed epoch: 0, iter: 2' in out, out[-3000:]

    final = [
        torch.load(d / 'iter_4.pth', map_location='cpu', weights_only=True)
        for d in (whole, killed)
    ]
    assert final[0]['state_dict'].keys() == final[1]['state_dict'].keys()
    for key, value in final[0]['state_dict'].items():
        assert torch.equal(value, final[1]['state_dict'][key]), key
    whole_losses, resumed_losses = (_iteration_losses(whole),
                                    _iteration_losses(killed))
    assert sorted(whole_losses) == [1, 2, 3, 4]
    assert {3, 4} <= set(resumed_losses)
    for it, loss in resumed_losses.items():
        assert loss == whole_losses[it], it
