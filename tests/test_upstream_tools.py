"""A project config run through MMSegmentation's and MMDetection's own
``tools/train.py`` / ``tools/test.py`` (shipped in the installed packages
under ``.mim/tools/``) behaves as through the project's tools: the checks
named by config key, the random states and the base fingerprint in the
checkpoints, and refusal of a checkpoint that does not match the model."""
import subprocess
import sys
from pathlib import Path

import mmdet
import mmseg
import pytest
import torch

from conftest import DET_DEMO, SEG_DEMO

MMSEG_TOOLS = Path(mmseg.__file__).parent / '.mim/tools'
MMDET_TOOLS = Path(mmdet.__file__).parent / '.mim/tools'
SHORT_RUN = ('train_cfg.max_iters=2', 'train_cfg.val_interval=1000',
             'default_hooks.checkpoint.interval=2',
             'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False')


def upstream(tools, script, *args, cwd):
    result = subprocess.run(
        [sys.executable, str(tools / script)] + [str(a) for a in args],
        cwd=cwd, capture_output=True, text=True, timeout=900)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope='module')
def upstream_run(workspace, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('upstream_train')
    rc, out = upstream(MMSEG_TOOLS, 'train.py', SEG_DEMO, '--work-dir',
                       work_dir, '--cfg-options', *SHORT_RUN, cwd=workspace)
    assert rc == 0, out[-4000:]
    return work_dir


def test_upstream_train_saves_random_states_and_base_fingerprint(
        upstream_run):
    ckpt = torch.load(upstream_run / 'iter_2.pth', map_location='cpu',
                      weights_only=True)
    assert set(ckpt['random_states']) >= {'python', 'numpy', 'torch'}
    assert ckpt['meta']['adapter_only']['base_fingerprint']
    assert not any(k.startswith('backbone.stages.')
                   for k in ckpt['state_dict'])  # frozen Swin left out


def test_upstream_test_refuses_a_mismatched_checkpoint(upstream_run,
                                                       workspace):
    rc, out = upstream(MMSEG_TOOLS, 'test.py', SEG_DEMO,
                       upstream_run / 'iter_2.pth', '--work-dir',
                       upstream_run / 'rank8', '--cfg-options',
                       'model.backbone.tuning.rank=8', cwd=workspace)
    assert rc != 0
    assert 'CheckpointMismatchError' in out and 'iter_2.pth' in out
    assert 'mIoU:' not in out


def test_upstream_train_names_a_missing_data_root(workspace, tmp_path):
    rc, out = upstream(MMDET_TOOLS, 'train.py', DET_DEMO, '--work-dir',
                       tmp_path, '--cfg-options', *SHORT_RUN,
                       'train_dataloader.dataset.data_root=data/nowhere/',
                       cwd=workspace)
    assert rc != 0
    assert ('FileNotFoundError: train_dataloader.dataset.data_root: '
            'data/nowhere/ does not exist') in out
