"""Training state survives a SIGKILL at any moment, checkpoint saves
included: real training processes on the synthetic ADE20K demo, killed at
random moments of real saves and resumed, end bitwise equal to an
uninterrupted run; auto-resume skips damaged or missing checkpoints and
says so."""
import logging
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time

import mmseg
import pytest
import torch

from conftest import ROOT, SEG_DEMO
from mmdet_e3va.engine.crash_safe_checkpoint import (NoIntactCheckpointError,
                                                     find_resume_checkpoint)
from mmdet_e3va.engine.launch import set_resume
from mmdet_e3va.utils.atomic_file import atomic_write

MMSEG_TRAIN = os.path.join(os.path.dirname(mmseg.__file__),
                           '.mim/tools/train.py')
MAX_ITERS = 5
SAVING = re.compile(r'Saving checkpoint at (\d+) iterations')
SAVED = re.compile(r'Adapter-only checkpoint \S*iter_(\d+)\.pth')


def _options(max_keep):
    return ['--cfg-options', f'train_cfg.max_iters={MAX_ITERS}',
            'default_hooks.checkpoint.type=CrashSafeCheckpointHook',
            'default_hooks.checkpoint.interval=1',
            f'default_hooks.checkpoint.max_keep_ckpts={max_keep}',
            'default_hooks.logger.interval=1', 'randomness.seed=0']


class Training:
    """A training process; a thread timestamps its output lines."""

    def __init__(self, script, work_dir, max_keep, *args, cwd):
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(SEG_DEMO), '--work-dir',
             str(work_dir), *args, *_options(max_keep)],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)
        self.output, self.lines = [], queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put((time.monotonic(), line))
        self.lines.put((time.monotonic(), None))

    def next_match(self, pattern, timeout=300):
        """``(time, match)`` of the next line matching ``pattern``, or None
        when the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            stamp, line = self.lines.get(timeout=deadline - time.monotonic())
            if line is None:
                return None
            found = pattern.search(line)
            if found:
                return stamp, found

    def finish(self):
        rc = self.process.wait(timeout=600)
        self.reader.join()
        assert rc == 0, self.text()[-5000:]

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.reader.join()

    def text(self):
        return ''.join(self.output)


def _state(path):
    return torch.load(path, map_location='cpu',
                      weights_only=True)['state_dict']


def _resume_step(work_dir):
    """The step ``last_checkpoint`` names (always an intact file), or
    None."""
    record = work_dir / 'last_checkpoint'
    if not record.is_file():
        return None
    return int(re.search(r'iter_(\d+)\.pth$', record.read_text()).group(1))


def _check_resumed(run, step):
    """``run`` resumed from the checkpoint of ``step`` (None: started
    afresh), not from an earlier one."""
    resumed = re.search(r'resumed epoch: \d+, iter: (\d+)', run.text())
    found = int(resumed.group(1)) if resumed else None
    assert found == step, run.text()[-5000:]


def _save_is_complete(work_dir, step, max_keep):
    """Did the save of ``step`` finish (file, record, pruning) before the
    kill?"""
    record = work_dir / 'last_checkpoint'
    return (record.is_file() and record.read_text().endswith(
        f'iter_{step}.pth') and not list(work_dir.glob('*.partial'))
            and len(list(work_dir.glob('iter_*.pth'))) == min(step,
                                                             max_keep))


@pytest.fixture(scope='module')
def uninterrupted(workspace, tmp_path_factory):
    """The final weights of an uninterrupted run, and how long its saves
    take (from the 'Saving checkpoint' line to the hook's report)."""
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    run = Training(ROOT / 'tools/train.py', work_dir, 1, cwd=workspace)
    durations = []
    while (saving := run.next_match(SAVING)) is not None:
        saved = run.next_match(SAVED)
        assert saved[1].group(1) == saving[1].group(1)
        durations.append(saved[0] - saving[0])
    run.finish()
    return _state(work_dir / f'iter_{MAX_ITERS}.pth'), sorted(durations)


@pytest.mark.parametrize('max_keep,script', [
    (1, ROOT / 'tools/train.py'),
    (2, MMSEG_TRAIN),
])
def test_kills_during_saves_then_resume_equal_uninterrupted(
        uninterrupted, workspace, tmp_path, max_keep, script):
    """Three SIGKILLs, each at a random moment of a save (a random delay
    after the 'Saving checkpoint' line, within the time a save takes), each
    followed by ``--resume`` (the project's train script, or
    MMSegmentation's own, which auto-resumes through the hook): the final
    weights equal the uninterrupted run's bitwise, the work dir holds the
    last ``max_keep`` checkpoints and no partial file."""
    final, durations = uninterrupted
    window = durations[len(durations) // 2]
    rng = random.Random(max_keep)
    work_dir = tmp_path / 'work'
    resume, cut_short, start = [], 0, None
    for _ in range(3):
        run = Training(script, work_dir, max_keep, *resume, cwd=workspace)
        resume = ['--resume']
        for _ in range(rng.randint(1, 2)):
            saving = run.next_match(SAVING)
            if saving is None:
                break
        if saving is None:  # finished before the chosen save
            run.finish()
            break
        time.sleep(rng.uniform(0, window))
        run.kill()
        _check_resumed(run, start)
        cut_short += not _save_is_complete(
            work_dir, int(saving[1].group(1)), max_keep)
        start = _resume_step(work_dir)
    else:
        run = Training(script, work_dir, max_keep, *resume, cwd=workspace)
        run.finish()
    _check_resumed(run, start)
    assert cut_short >= 1, 'no kill landed inside a save'
    state = _state(work_dir / f'iter_{MAX_ITERS}.pth')
    assert state.keys() == final.keys()
    for key, value in final.items():
        assert torch.equal(state[key], value), key
    kept = sorted(p.name for p in work_dir.glob('iter_*.pth'))
    assert kept == [f'iter_{i}.pth'
                    for i in range(MAX_ITERS - max_keep + 1, MAX_ITERS + 1)]
    assert not list(work_dir.glob('*.partial'))


def _checkpoint(path, step):
    torch.save(dict(meta=dict(seed=step, iter=step),
                    state_dict=dict(w=torch.full((1000, ), float(step)))),
               path)


def test_auto_resume_skips_damaged_and_missing_checkpoints(tmp_path, caplog):
    """``last_checkpoint`` empty, or naming a missing or truncated file:
    the newest intact ``iter_*.pth`` beside it is taken, and every file
    passed over is logged with the reason."""
    logger = logging.getLogger('auto_resume')
    for step in (2, 4, 6):
        _checkpoint(tmp_path / f'iter_{step}.pth', step)
    data = (tmp_path / 'iter_6.pth').read_bytes()
    (tmp_path / 'iter_6.pth').write_bytes(data[:len(data) // 2])
    record = tmp_path / 'last_checkpoint'

    record.write_text(str(tmp_path / 'iter_6.pth'))
    with caplog.at_level(logging.INFO, logger='auto_resume'):
        found = find_resume_checkpoint(str(tmp_path), str(tmp_path),
                                       'iter_{}.pth', logger)
    assert found == str(tmp_path / 'iter_4.pth')
    assert re.search(r'skipped \S*iter_6\.pth: .*truncated', caplog.text)

    caplog.clear()
    record.write_text('')
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    with caplog.at_level(logging.INFO, logger='auto_resume'):
        found = find_resume_checkpoint(str(tmp_path), str(tmp_path),
                                       'iter_{}.pth', logger)
    assert found == str(tmp_path / 'iter_2.pth')
    assert 'skipped ' + str(record) + ': it is empty' in caplog.text
    assert 'iter_4.pth: it is empty' in caplog.text

    record.write_text(str(tmp_path / 'iter_8.pth'))  # deleted
    (tmp_path / 'iter_2.pth').write_bytes(data[:100])
    with pytest.raises(NoIntactCheckpointError) as err:
        find_resume_checkpoint(str(tmp_path), str(tmp_path), 'iter_{}.pth',
                               logger)
    message = str(err.value)
    assert 'iter_8.pth: it does not exist' in message
    assert 'iter_6.pth' in message and 'iter_2.pth' in message

    empty = tmp_path / 'fresh'
    empty.mkdir()
    assert find_resume_checkpoint(str(empty), str(empty), 'iter_{}.pth',
                                  logger) is None


def test_set_resume_names_the_flag(tmp_path):
    from mmengine.config import Config
    cfg = Config(dict(work_dir=str(tmp_path)))
    with pytest.raises(FileNotFoundError,
                       match=r'^--resume: checkpoint \S*nothing\.pth does '
                       'not exist'):
        set_resume(cfg, str(tmp_path / 'nothing.pth'))


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / 'last_checkpoint'
    atomic_write(str(target), b'iter_2.pth')
    with pytest.raises(TypeError):
        atomic_write(str(target), object())
    assert target.read_bytes() == b'iter_2.pth'
    assert not list(tmp_path.glob('*.partial'))
