"""Reading Swin checkpoints (official, converted, or a detector's) for a
frozen Swin backbone, with a strict check of the frozen keys, and the
fingerprint that pins adapter-only checkpoints to their base."""
import hashlib
import os
import os.path as osp

import torch
import torch.nn.functional as F
from mmdet.models.backbones.swin import swin_converter
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader

# Keys that official/upstream checkpoints carry but that upstream Swin
# rebuilds itself (buffers) or does not have (the classifier's final norm).
_IGNORED_SUFFIXES = ('relative_position_index', 'attn_mask')
_IGNORED_KEYS = ('norm.weight', 'norm.bias')


def read_swin_state_dict(filename, convert_weights):
    """Return the backbone state dict stored in ``filename``.

    Accepts a raw state dict or one under ``state_dict``/``model``; keeps
    only ``backbone.*`` keys when there are any (a detector or segmentor
    checkpoint) and strips ``backbone.``/``module.`` prefixes.
    ``convert_weights`` maps official Swin keys to upstream ones.
    """
    ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    state = ckpt.get('state_dict', ckpt.get('model', ckpt))
    if convert_weights:
        state = swin_converter(state)
    elif any(k.startswith('layers.') for k in state):
        raise KeyError(
            f'{filename} holds official Swin keys (layers.*): set the '
            f'backbone option convert_weights=True to load it')
    if any(k.startswith('backbone.') for k in state):
        state = {k[len('backbone.'):]: v for k, v in state.items()
                 if k.startswith('backbone.')}
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state.items()}


def resize_relative_position_tables(state, model_state):
    """Bicubically resize relative position bias tables whose window size
    differs from the model's (as upstream Swin does)."""
    for key, table in list(state.items()):
        if 'relative_position_bias_table' not in key or key not in model_state:
            continue
        (len_src, heads_src), (len_dst, heads_dst) = (
            table.shape, model_state[key].shape)
        if heads_src != heads_dst:
            raise ValueError(f'{key}: checkpoint has {heads_src} heads, '
                             f'the model {heads_dst}')
        if len_src != len_dst:
            side_src, side_dst = int(len_src**0.5), int(len_dst**0.5)
            resized = F.interpolate(
                table.permute(1, 0).reshape(1, heads_src, side_src, side_src),
                size=(side_dst, side_dst), mode='bicubic')
            state[key] = resized.view(heads_dst, len_dst).permute(1, 0)
    return state


def check_swin_keys(state, required_keys, known_keys, filename,
                    allow_truncation=False):
    """Raise ``KeyError`` naming the ``required_keys`` that ``filename``
    lacks, or its ``stages.*`` keys outside ``known_keys`` (a deeper Swin)
    unless ``allow_truncation``; return its other keys outside
    ``known_keys`` (to be logged)."""
    missing = sorted(set(required_keys) - set(state))
    if missing:
        raise KeyError(
            f'{filename} does not match the Swin backbone: {len(missing)} '
            f'frozen keys are missing, e.g. {missing[:5]}')
    unknown = sorted(k for k in set(state) - set(known_keys)
                     if not k.endswith(_IGNORED_SUFFIXES)
                     and k not in _IGNORED_KEYS)
    deeper = [k for k in unknown if k.startswith('stages.')]
    if deeper and not allow_truncation:
        raise KeyError(
            f'{filename} holds a deeper Swin than the model: {len(deeper)} '
            f'stage keys the model lacks, e.g. {deeper[:5]}; set '
            f'allow_truncation=True in the backbone init_cfg to drop them')
    return unknown


# Where an adapter-only checkpoint records its base: in its ``meta``
# (``adapter_only``) for people, and in the backbone's state-dict metadata
# (which ``load_state_dict`` hands to the backbone's pre-hook) for loading.
BASE_RECORD_KEY = 'adapter_base'
ALLOW_BASE_MISMATCH_ENV = 'E3VA_ALLOW_BASE_MISMATCH'


def frozen_fingerprint(named_tensors):
    """sha256 (hex) over ``(name, dtype, shape, bytes)`` of each tensor, in
    the given order (the backbone's frozen parameters in state-dict
    order)."""
    digest = hashlib.sha256()
    for name, tensor in named_tensors:
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def resolve_checkpoint_path(path):
    """An absolute path for a local checkpoint; URLs unchanged."""
    return path if '://' in path else osp.abspath(osp.expanduser(path))


def base_record(backbone):
    """The record of the frozen weights ``backbone`` holds now: its base
    checkpoint (as given in ``init_cfg`` and resolved), fingerprint, and
    the storage dtype of each frozen tensor not in fp32 (``frozen_dtype``
    models), so that a model of another storage dtype can check it."""
    given = backbone.init_cfg['checkpoint']
    frozen = [(n, p) for n, p in backbone.named_parameters()
              if not p.requires_grad]
    return dict(
        checkpoint=given, resolved=resolve_checkpoint_path(given),
        fingerprint=frozen_fingerprint(frozen),
        dtypes={n: str(p.dtype).replace('torch.', '') for n, p in frozen
                if p.dtype != torch.float32})


def check_base_fingerprint(backbone, frozen_state, recorded):
    """Refuse restoring an adapter-only checkpoint on other frozen weights
    than it was trained on.

    Args:
        backbone: the tuned Swin being loaded.
        frozen_state (dict): the frozen weights about to be restored from
            ``backbone.init_cfg``'s checkpoint.
        recorded (dict | None): the checkpoint's :func:`base_record`
            (``None`` for checkpoints written without one).

    Raises:
        ValueError: naming both fingerprints and base files, unless the
            environment sets ``E3VA_ALLOW_BASE_MISMATCH=1`` (then it warns).
    """
    logger = MMLogger.get_current_instance()
    current = backbone.init_cfg['checkpoint']
    if recorded is None:
        logger.warning(
            f'{type(backbone).__name__}: the adapter-only checkpoint records '
            f'no base fingerprint; cannot check that {current} is its base')
        return
    # The base's values in the dtypes the fingerprinted model stored them
    # in (records without ``dtypes`` predate frozen_dtype: this model's).
    dtypes = recorded.get('dtypes')
    fingerprint = frozen_fingerprint(
        (n, frozen_state[n].to(p.dtype if dtypes is None else getattr(
            torch, dtypes.get(n, 'float32'))))
        for n, p in backbone.named_parameters() if not p.requires_grad)
    if fingerprint == recorded['fingerprint']:
        return
    message = (
        f'{type(backbone).__name__}: the adapter-only checkpoint was trained '
        f'on frozen weights with fingerprint {recorded["fingerprint"]} (base '
        f'{recorded["checkpoint"]}, resolved {recorded["resolved"]}), but '
        f'the base it is restored from, {current} (resolved '
        f'{resolve_checkpoint_path(current)}), has fingerprint '
        f'{fingerprint}')
    if os.environ.get(ALLOW_BASE_MISMATCH_ENV) == '1':
        logger.warning(f'{message}; loading anyway '
                       f'({ALLOW_BASE_MISMATCH_ENV}=1)')
        return
    raise ValueError(
        f'{message}. Point model.backbone.init_cfg.checkpoint at the base it '
        f'was trained on, or set {ALLOW_BASE_MISMATCH_ENV}=1 to load anyway')
