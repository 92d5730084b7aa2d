"""Adapter-only checkpoints: leave the frozen backbone out of every saved
checkpoint and report how much that saves."""
import os.path as osp

from mmengine.hooks import Hook

from ...models.backbones.swin_checkpoint import BASE_RECORD_KEY, base_record
from ...registry import register_hook
from ...utils import unwrap_model


@register_hook
class AdapterCheckpointHook(Hook):
    """Drops the frozen backbone weights (and backbone buffers, which the
    backbone rebuilds) from checkpoints; keeps the trainable backbone
    parameters, neck, heads, optimizer, schedulers and meta.

    Loading needs no hook: a tuned Swin backbone handed a state dict without
    its frozen weights reads them from its ``init_cfg`` checkpoint, so
    ``tools/test.py`` and ``--resume`` work from these files. The hook
    therefore requires ``model.backbone.init_cfg`` to name that checkpoint.

    The checkpoint is pinned to its base: ``meta.adapter_only`` records the
    base as given and resolved, and a sha256 fingerprint of the frozen
    weights the adapters were trained on (computed once, before training);
    the same record goes into the backbone's state-dict metadata, where the
    backbone checks it when it restores the frozen weights. After each save
    the hook logs the file size against the full checkpoint's.
    """

    priority = 'LOWEST'  # after CheckpointHook has saved

    def __init__(self):
        self._dropped_bytes = 0
        self._reported = None
        self._base = None

    @staticmethod
    def _backbone(runner):
        return unwrap_model(runner.model).backbone

    def before_train(self, runner):
        init_cfg = self._backbone(runner).init_cfg or {}
        if 'checkpoint' not in init_cfg:
            raise ValueError(
                'AdapterCheckpointHook: model.backbone.init_cfg must name the '
                'base checkpoint (dict(type="Pretrained", checkpoint=...)); '
                'adapter-only checkpoints are restored from it')
        self._base = base_record(self._backbone(runner))

    def before_save_checkpoint(self, runner, checkpoint):
        backbone = self._backbone(runner)
        keep = {f'backbone.{n}' for n, p in backbone.named_parameters()
                if p.requires_grad}
        state = checkpoint['state_dict']
        dropped = [k for k in state
                   if k.startswith('backbone.') and k not in keep]
        self._dropped_bytes = sum(
            state[k].numel() * state[k].element_size() for k in dropped)
        for key in dropped:
            del state[key]
        state._metadata.setdefault('backbone', {})[BASE_RECORD_KEY] = (
            self._base)
        checkpoint['meta']['adapter_only'] = dict(
            base_checkpoint=self._base['checkpoint'],
            base_checkpoint_resolved=self._base['resolved'],
            base_fingerprint=self._base['fingerprint'],
            dropped_keys=len(dropped))

    def _report(self, runner):
        path = runner.message_hub.get_info('last_ckpt')
        if path is None or path == self._reported or not osp.isfile(path):
            return
        self._reported = path
        size = osp.getsize(path)
        full = size + self._dropped_bytes
        runner.logger.info(
            f'Adapter-only checkpoint {path}: {size / 2**20:.2f} MiB, '
            f'{100 * size / full:.1f}% of the full checkpoint '
            f'({full / 2**20:.2f} MiB)')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self._report(runner)

    def after_train_epoch(self, runner):
        self._report(runner)
