"""Checkpoint files that survive a kill at any moment, and the auto-resume
that finds the newest intact one.

Files are written whole or not at all (:func:`~..utils.atomic_file.atomic_write`):
:class:`AtomicLocalBackend`, registered as mmengine file backend
``'e3va_atomic_local'``, writes every ``put`` that way;
:class:`~.hooks.CrashSafeCheckpointHook` saves through it.
"""
import logging
import os
import os.path as osp
import re

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

from ..utils.atomic_file import atomic_write
from ..utils.checkpoint_integrity import (CorruptCheckpointError,
                                          verify_checkpoint_integrity)

ATOMIC_BACKEND = 'e3va_atomic_local'
LAST_CHECKPOINT = 'last_checkpoint'


class NoIntactCheckpointError(RuntimeError):
    """A work dir holds checkpoints, but none of them is intact."""


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with :func:`atomic_write` writes."""

    def put(self, obj, filepath):
        atomic_write(str(filepath), obj)

    def put_text(self, obj, filepath, encoding='utf-8'):
        atomic_write(str(filepath), obj.encode(encoding))


def checkpoint_problem(path):
    """Why the checkpoint file ``path`` cannot be resumed from (missing,
    empty, truncated or damaged: see :mod:`..utils.checkpoint_integrity`),
    or None when it is intact."""
    if not osp.isfile(path):
        return 'it does not exist'
    if osp.getsize(path) == 0:
        return 'it is empty'
    try:
        verify_checkpoint_integrity(path, path)
    except CorruptCheckpointError as err:
        return str(err)
    return None


def checkpoint_folder(work_dir, out_dir=None):
    """Where ``CheckpointHook`` saves: ``work_dir``, or
    ``out_dir/<last folder of work_dir>`` when ``out_dir`` is given."""
    if not out_dir:
        return work_dir
    return osp.join(out_dir, osp.basename(work_dir.rstrip(osp.sep)))


def hook_layout(cfg):
    """``(folder, filename template)`` of the checkpoints that
    ``cfg.default_hooks.checkpoint`` saves."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    tmpl = hook.get('filename_tmpl') or (
        'epoch_{}.pth' if hook.get('by_epoch', True) else 'iter_{}.pth')
    return checkpoint_folder(cfg.work_dir, hook.get('out_dir')), tmpl


def find_resume_checkpoint(work_dir, folder, filename_tmpl,
                           logger='current'):
    """The checkpoint to auto-resume from: the file ``work_dir/
    last_checkpoint`` names when it is intact; otherwise the intact file
    of ``folder`` named by ``filename_tmpl`` (e.g. ``'iter_{}.pth'``) with
    the highest number. Every file passed over is logged with the reason.

    Returns None when there is no ``last_checkpoint`` and no such file.

    Raises:
        NoIntactCheckpointError: there are some, but none is intact.
    """
    head, _, tail = filename_tmpl.partition('{}')
    pattern = re.compile(re.escape(head) + r'(\d+)' + re.escape(tail) + '$')
    numbered = sorted(
        ((int(m.group(1)), osp.join(folder, name))
         for name in (os.listdir(folder) if osp.isdir(folder) else [])
         for m in [pattern.match(name)] if m),
        reverse=True)
    candidates = [path for _, path in numbered]
    skipped = []
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
        if '://' in named:  # remote storage: loading it checks it
            return named
        if named:
            candidates.insert(0, named)
        else:
            skipped.append(f'{record}: it is empty')
    tried = set()
    for path in candidates:
        if osp.abspath(path) in tried:
            continue
        tried.add(osp.abspath(path))
        problem = checkpoint_problem(path)
        if problem is None:
            for reason in skipped:
                print_log(f'Auto-resume skipped {reason}', logger=logger,
                          level=logging.WARNING)
            print_log(f'Auto-resume from {path}', logger=logger)
            return path
        skipped.append(f'{path}: {problem}')
    if skipped:
        raise NoIntactCheckpointError(
            f'Cannot auto-resume in {work_dir}: no intact checkpoint '
            f'({"; ".join(skipped)}). Name a checkpoint to resume from, or '
            f'start without resuming')
    return None
