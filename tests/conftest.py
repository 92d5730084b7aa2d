import socket
import subprocess
import sys
from pathlib import Path

import pytest

import mmdet_e3va  # noqa: F401  (registers modules, safe checkpoint loading)
from tools.scenes.synthetic_scenes import generate

ROOT = Path(__file__).resolve().parents[1]
DET_DEMO = ROOT / 'configs/demo/cascade-mask-rcnn_swin-demo-e3va_fpn_300it_synthetic-coco.py'  # noqa: E501
SEG_DEMO = ROOT / 'configs/demo/upernet_swin-demo-e3va_500it_synthetic-ade20k.py'  # noqa: E501


def free_port():
    """A free TCP port on 127.0.0.1, as a string."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def run_tool(script, *args, cwd, env=None, timeout=900, launcher=None):
    """Run ``tools/<script>`` as a real process (``launcher`` prefixes the
    command, e.g. ``['bash']``); fail the test with its output tail."""
    cmd = (launcher or [sys.executable]) + [str(ROOT / 'tools' / script)]
    result = subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f'{script} {args} exited {result.returncode}:\n{output[-6000:]}')
    return output


@pytest.fixture(scope='session')
def workspace(tmp_path_factory):
    """A directory laid out like the repo root for the demo configs:
    ``data/`` holds small synthetic COCO/ADE20K/VOC data sets and
    ``data/pretrained/`` a briefly pretrained tiny Swin."""
    root = tmp_path_factory.mktemp('workspace')
    generate(str(root / 'data'), num_train=8, num_val=4, size=96, seed=0)
    run_tool('pretrain_tiny_swin.py', DET_DEMO, '--iters', 3,
             '--batch-size', 2, '--size', 64, cwd=root)
    return root
