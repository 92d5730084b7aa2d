"""A CheckpointHook whose checkpoints survive a kill at any moment."""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from ...registry import register_hook
from ...utils.atomic_file import PARTIAL_SUFFIX, atomic_write
from ..crash_safe_checkpoint import (ATOMIC_BACKEND, LAST_CHECKPOINT,
                                     checkpoint_folder,
                                     find_resume_checkpoint)

# message-hub key (saved in every checkpoint): the outdated checkpoints the
# save of that checkpoint deletes once it is complete
OUTDATED_KEY = 'outdated_ckpt_ids'


@register_hook
class CrashSafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) made safe against a
    kill at any moment (configs: ``default_hooks.checkpoint.type``):

    - every file it writes (checkpoints, best checkpoints,
      ``last_checkpoint``) goes to ``<name>.partial``, is fsynced and renamed
      into place (:mod:`..crash_safe_checkpoint`), so a name always holds a
      complete file;
    - with ``max_keep_ckpts``, outdated checkpoints are deleted after the
      new checkpoint and ``last_checkpoint`` are complete (upstream deletes
      them first); deletions a kill cut short, and ``.partial`` leftovers,
      are done when the run resumes;
    - ``resume=True`` without ``load_from`` (mmengine's auto-resume, e.g.
      ``--resume`` of upstream train scripts) starts from
      :func:`..crash_safe_checkpoint.find_resume_checkpoint`: the newest
      intact checkpoint, logging the files it skipped.

    Writes local files only: ``backend_args``/``file_client_args`` and
    remote ``out_dir`` are refused.
    """

    def __init__(self, *args, backend_args=None, file_client_args=None,
                 **kwargs):
        if backend_args is not None or file_client_args is not None:
            raise ValueError(
                'CrashSafeCheckpointHook writes local files through its own '
                'file backend: remove default_hooks.checkpoint.backend_args/'
                'file_client_args (type="CheckpointHook" writes elsewhere)')
        super().__init__(*args, backend_args=dict(backend=ATOMIC_BACKEND),
                         **kwargs)
        if '://' in str(self.out_dir or ''):
            raise ValueError(
                f'CrashSafeCheckpointHook writes local files only: '
                f'default_hooks.checkpoint.out_dir={self.out_dir!r}')

    def before_run(self, runner):
        if runner._resume and runner._load_from is None:
            runner._load_from = find_resume_checkpoint(
                runner.work_dir,
                checkpoint_folder(runner.work_dir, self.out_dir),
                self.filename_tmpl, logger=runner.logger)

    def before_train(self, runner):
        super().before_train(runner)
        if not is_main_process():
            return
        partial = [osp.join(runner.work_dir, LAST_CHECKPOINT + PARTIAL_SUFFIX)]
        if osp.isdir(self.out_dir):
            partial += [osp.join(self.out_dir, name)
                        for name in os.listdir(self.out_dir)
                        if name.endswith(PARTIAL_SUFFIX)]
        for path in sorted(set(partial)):
            if osp.isfile(path):
                runner.logger.info(f'Removing {path}: an interrupted save')
                os.remove(path)
        for step in runner.message_hub.get_info(OUTDATED_KEY, []):
            removed = self._remove(step)
            if removed:
                runner.logger.info(
                    f'Removed {removed}: outdated, kept by an interrupted '
                    'save')

    def _remove(self, step):
        """Delete the checkpoint of ``step``; its path, or None if absent."""
        path = osp.join(self.out_dir, self.filename_tmpl.format(step))
        if not osp.isfile(path):
            return None
        os.remove(path)
        return path

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        runner.message_hub.update_info(OUTDATED_KEY, outdated)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, LAST_CHECKPOINT),
                     self.last_ckpt.encode())
        for old in outdated:
            self._remove(old)
