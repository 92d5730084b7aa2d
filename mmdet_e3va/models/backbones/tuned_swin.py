"""Upstream Swin Transformer tuned by a registered tuning method."""
from mmdet.models.backbones.swin import SwinTransformer
from mmengine.logging import MMLogger

from ...registry import TUNINGS, register_model
from .swin_checkpoint import (BASE_RECORD_KEY, check_base_fingerprint,
                              check_swin_keys, read_swin_state_dict,
                              resize_relative_position_tables)

TUNING_PREFIX = 'tuning.'


@register_model
class TunedSwinTransformer(SwinTransformer):
    """Upstream ``SwinTransformer`` plus a tuning method, e.g.
    ``tuning=dict(type='E3VA')`` or ``dict(type='LoRA', rank=8)`` (see
    ``mmdet_e3va.models.tuning``; register your own in ``TUNINGS``).

    Takes every argument of upstream ``SwinTransformer``; the Swin's
    state-dict keys stay upstream's, so official (``convert_weights=True``)
    and converted checkpoints load through ``init_cfg`` or ``load_from``
    unchanged, and the method's modules live under ``tuning.``.

    What trains is decided once, at construction, for every parameter:
    ``requires_grad = name.startswith('tuning.') or
    tuning.swin_param_trainable(name)``; optimizers and DDP never see the
    rest. Methods with ``frozen_eval`` keep the Swin modules that have no
    trainable parameter in eval mode.

    Handed a state dict with the trainable keys but none of the frozen ones
    (an adapter-only checkpoint), the backbone reads the frozen weights from
    its ``init_cfg`` checkpoint, and refuses them when their fingerprint
    differs from the base the checkpoint records.

    Args:
        tuning (dict): The tuning method config. Defaults to full
            fine-tuning.
        **kwargs: Upstream ``SwinTransformer`` arguments. ``frozen_stages``
            must stay -1: the tuning method decides what is frozen.
    """

    def __init__(self, tuning=dict(type='Full'), **kwargs):
        name = type(self).__name__
        num_stages = len(kwargs.get('depths', (2, 2, 6, 2)))
        out_indices = tuple(kwargs.get('out_indices', (0, 1, 2, 3)))
        if not out_indices or any(
                not 0 <= i < num_stages for i in out_indices):
            raise ValueError(
                f'{name}: out_indices={out_indices} must be non-empty stage '
                f'indices in [0, {num_stages - 1}]')
        norm_type = kwargs.get('norm_cfg', dict(type='LN'))['type']
        if norm_type != 'LN':
            raise ValueError(f'{name}: norm_cfg type must be LN, got '
                             f'{norm_type!r}')
        if kwargs.get('frozen_stages', -1) != -1:
            raise ValueError(
                f'{name}: frozen_stages={kwargs["frozen_stages"]} is not '
                f'supported; the tuning method decides what is frozen')
        super().__init__(**kwargs)
        tuning = dict(tuning)
        tuning_type = tuning.pop('type', None)
        method = (TUNINGS.get(tuning_type)
                  if isinstance(tuning_type, str) else None)
        if method is None:
            raise KeyError(f'{name}: tuning type {tuning_type!r} is not one of '
                           f'the registered methods '
                           f'{sorted(TUNINGS.module_dict)}')
        self.tuning = method(**tuning)
        self.tuning.attach(self)
        for param_name, param in self.named_parameters():
            param.requires_grad_(
                param_name.startswith(TUNING_PREFIX)
                or self.tuning.swin_param_trainable(param_name))
        self._register_load_state_dict_pre_hook(self._fill_frozen_state)

    def train(self, mode=True):
        """Set the mode; with ``tuning.frozen_eval`` the Swin modules without
        trainable parameters stay in eval mode."""
        super().train(mode)
        if mode and self.tuning.frozen_eval:
            for name, child in self.named_children():
                if name != 'tuning' and not any(
                        p.requires_grad for p in child.parameters()):
                    child.eval()
        return self

    def forward(self, x):
        """``(B, 3, H, W)`` -> one ``(B, C_s, H_s, W_s)`` map per out index."""
        return self.tuning.forward_swin(self, x)

    def init_weights(self):
        """Load the Swin from ``init_cfg`` (or init it randomly when there is
        none) and reset the tuning modules."""
        if self.init_cfg is None:
            super().init_weights()
        else:
            self.load_state_dict(self._pretrained_swin_state(), strict=False)
            MMLogger.get_current_instance().info(
                f'{type(self).__name__}: loaded the pretrained Swin from '
                f'{self.init_cfg["checkpoint"]}')
        self.tuning.init_weights()

    def _swin_param_names(self):
        return [n for n, _ in self.named_parameters()
                if not n.startswith(TUNING_PREFIX)]

    def _pretrained_swin_state(self):
        """The Swin weights of the ``init_cfg`` checkpoint, checked against
        this model's keys (``KeyError`` naming missing ones)."""
        init_cfg = self.init_cfg or {}
        if init_cfg.get('type') != 'Pretrained' or 'checkpoint' not in init_cfg:
            raise ValueError(
                f'{type(self).__name__}: init_cfg must be '
                f"dict(type='Pretrained', checkpoint=...), got {init_cfg}")
        filename = init_cfg['checkpoint']
        model_state = self.state_dict()
        state = read_swin_state_dict(filename, self.convert_weights)
        state = resize_relative_position_tables(state, model_state)
        unexpected = check_swin_keys(
            state, self._swin_param_names(), model_state, filename,
            allow_truncation=init_cfg.get('allow_truncation', False))
        if unexpected:
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: ignored keys of {filename} unknown '
                f'to the model: {unexpected}')
        return {k: v for k, v in state.items()
                if k in model_state and not k.startswith(TUNING_PREFIX)}

    def _fill_frozen_state(self, state_dict, prefix, local_metadata, *args):
        """Load pre-hook: complete an adapter-only state dict (trainable
        keys, none of the frozen ones) with the frozen weights of
        ``init_cfg``, once they match the fingerprint the checkpoint records
        (``swin_checkpoint.check_base_fingerprint``), and this model's
        buffers."""
        trainable = [n for n, p in self.named_parameters() if p.requires_grad]
        frozen = [n for n, p in self.named_parameters() if not p.requires_grad]
        # Adapter-only: recorded by AdapterCheckpointHook, or trainable keys
        # without frozen ones (a Frozen backbone's file has no backbone key).
        recorded = local_metadata.get(BASE_RECORD_KEY)
        if (not frozen or any(prefix + n in state_dict for n in frozen)
                or not (recorded is not None or any(
                    prefix + n in state_dict for n in trainable))):
            return
        if not (self.init_cfg or {}).get('checkpoint'):
            raise KeyError(
                f'{type(self).__name__}: the checkpoint is adapter-only (no '
                f'frozen Swin weights) and model.backbone.init_cfg names no '
                f'base checkpoint to restore them from')
        base = {k: v for k, v in self._pretrained_swin_state().items()
                if k in frozen}
        check_base_fingerprint(self, base, recorded)
        for name, buffer in self.named_buffers():
            base.setdefault(name, buffer)
        for key, value in base.items():
            state_dict.setdefault(prefix + key, value)
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: adapter-only checkpoint; frozen weights '
            f'restored from {self.init_cfg["checkpoint"]}')
