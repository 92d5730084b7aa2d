"""``compile`` in a config is refused before anything is built, naming the
key, through the project's and MMSegmentation's own train scripts (the
configs' ``CheckedRunner`` checks it), instead of compiling for minutes and
then crashing."""
import subprocess
import sys
from pathlib import Path

import mmseg
import pytest
from mmengine.config import Config

from conftest import ROOT, SEG_DEMO
from mmdet_e3va.engine.compile_check import check_compile

MMSEG_TRAIN = Path(mmseg.__file__).parent / '.mim/tools/train.py'


@pytest.mark.parametrize('script,value', [
    (ROOT / 'tools/train.py', 'True'),
    (MMSEG_TRAIN, "{'backend':'eager'}"),
])
def test_compile_is_refused_up_front(workspace, tmp_path, script, value):
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, str(script), str(SEG_DEMO), '--work-dir',
         str(work_dir), '--cfg-options', f'compile={value}'],
        cwd=workspace, capture_output=True, text=True, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'ValueError: compile=' in out, out[-3000:]
    assert 'remove `compile` from the config' in out
    assert not work_dir.exists()  # refused before the runner was built


def test_compile_unset_or_false_passes():
    for value in (None, False):
        check_compile(Config(dict(compile=value)))
    check_compile(Config(dict()))
