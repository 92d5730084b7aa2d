"""``tools/pretrain_tiny_swin.py`` runs for any positive iteration count
(OneCycleLR divided by zero at 10) and refuses others by name."""
import subprocess
import sys

import pytest
import torch

from conftest import DET_DEMO, ROOT, run_tool


@pytest.mark.parametrize('iters', [1, 10])
def test_pretrain_runs_short_counts(workspace, tmp_path, iters):
    out = tmp_path / 'swin.pth'
    run_tool('pretrain_tiny_swin.py', DET_DEMO, '--iters', iters,
             '--batch-size', 1, '--size', 64, '--out', out, cwd=workspace)
    assert torch.load(out, weights_only=True)['meta']['iters'] == iters


def test_pretrain_refuses_zero_iterations(workspace, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools/pretrain_tiny_swin.py'),
         str(DET_DEMO), '--iters', '0', '--out', str(tmp_path / 'x.pth')],
        cwd=workspace, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert 'argument --iters: must be at least 1, got 0' in result.stderr
