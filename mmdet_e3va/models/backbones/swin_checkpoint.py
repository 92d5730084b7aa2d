"""Reading Swin checkpoints (official, converted, or a detector's) for a
frozen Swin backbone, with a strict check of the frozen keys."""
import torch.nn.functional as F
from mmdet.models.backbones.swin import swin_converter
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


def check_swin_keys(state, required_keys, known_keys, filename):
    """Raise ``KeyError`` naming the ``required_keys`` that ``filename``
    lacks; return its keys outside ``known_keys`` (to be logged)."""
    missing = sorted(set(required_keys) - set(state))
    if missing:
        raise KeyError(
            f'{filename} does not match the Swin backbone: {len(missing)} '
            f'frozen keys are missing, e.g. {missing[:5]}')
    return sorted(k for k in set(state) - set(known_keys)
                  if not k.endswith(_IGNORED_SUFFIXES)
                  and k not in _IGNORED_KEYS)
