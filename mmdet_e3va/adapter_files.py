"""Adapter files: what fine-tuning changed in a model with a tuned Swin
backbone, as ``adapter.safetensors`` (tensors behind a JSON header, no
pickle) and ``adapter_config.json`` (readable: method, backbone, base,
task). The frozen Swin stays out; loading restores it from the base
checkpoint the config names, after checking its fingerprint."""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner.checkpoint import (CheckpointLoader,
                                        _load_checkpoint_to_model)

from . import __version__
from .engine.checkpoint_paths import check_checkpoint_paths
from .engine.hooks.checkpoint_match_hook import check_checkpoint_matches
from .models.backbones.swin_checkpoint import BASE_RECORD_KEY, base_record
from .models.backbones.tuned_swin import TunedSwinTransformer
from .registry import TUNINGS
from .utils import unwrap_model
from .utils.safetensors_checkpoint import save_safetensors_checkpoint

ADAPTER_FILE = 'adapter.safetensors'
CONFIG_FILE = 'adapter_config.json'
TASKS = dict(mmdet='det', mmseg='seg')


def tuned_backbone(model):
    """``model.backbone`` (``model``: a detector or segmentor, possibly
    wrapped), which must be a :class:`TunedSwinTransformer`."""
    backbone = getattr(unwrap_model(model), 'backbone', None)
    if not isinstance(backbone, TunedSwinTransformer):
        raise TypeError(
            f'model.backbone must be a TunedSwinTransformer (or '
            f'E3VASwinTransformer), got {type(backbone).__name__}')
    return backbone


def adapter_state_dict(model):
    """The tensors of ``model`` that an adapter file holds (as
    ``AdapterCheckpointHook`` keeps them): the backbone's trainable
    parameters (adapters, norm deltas, the Swin weights a method trains)
    and every parameter and buffer outside the backbone (neck, heads).
    The backbone's frozen parameters and buffers stay out."""
    backbone = tuned_backbone(model)
    keep = {f'backbone.{n}' for n, p in backbone.named_parameters()
            if p.requires_grad}
    return {k: v for k, v in unwrap_model(model).state_dict().items()
            if not k.startswith('backbone.') or k in keep}


def _plain(value):
    """A config value as JSON-ready Python (tuples -> lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != '_delete_'}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def adapter_config(cfg, backbone, base):
    """The ``adapter_config.json`` record of ``backbone`` built from
    ``cfg``: tuning method and options, backbone arguments, the base
    checkpoint and fingerprint (``base``, :func:`base_record`, or None when
    nothing in the backbone is frozen), the task and this project's
    version."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(f'default_scope must be one of {sorted(TASKS)} (it '
                         f'names the task), got {scope!r}')
    backbone_cfg = _plain(cfg.model.backbone.to_dict())
    tuning = backbone_cfg.pop('tuning', None) or dict(type=next(
        name for name, cls in TUNINGS.module_dict.items()
        if cls is type(backbone.tuning)))
    backbone_cfg.pop('init_cfg', None)
    return dict(
        format='mmdet_e3va.adapter', version=__version__, task=TASKS[scope],
        default_scope=scope, tuning=tuning, backbone=backbone_cfg,
        base_checkpoint=base)


def save_adapter(model, out_dir, cfg, dataset_meta=None):
    """Write ``out_dir/adapter.safetensors`` (:func:`adapter_state_dict`,
    with the base record in its header) and ``out_dir/adapter_config.json``
    (:func:`adapter_config`).

    Args:
        model: A detector or segmentor with a :class:`TunedSwinTransformer`
            backbone, holding the weights to export.
        out_dir (str): Created when missing; existing files are replaced.
        cfg (Config | str): The config ``model`` was built from.
        dataset_meta (dict, optional): Class names etc. (a checkpoint's
            ``meta.dataset_meta``), kept in the file's meta.

    Returns:
        dict: The adapter config.

    Raises:
        ValueError: the backbone has frozen weights but
            ``model.backbone.init_cfg`` names no base checkpoint, or a LoRA
            update is merged into them (``tuning.merged``).
    """
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    backbone = tuned_backbone(model)
    if bool(getattr(backbone.tuning, 'merged', False)):
        raise ValueError('save_adapter: the LoRA update is merged into the '
                         'frozen weights (tuning.merged); export the '
                         'unmerged model')
    frozen = any(not p.requires_grad for p in backbone.parameters())
    if frozen and not (backbone.init_cfg or {}).get('checkpoint'):
        raise ValueError(
            'save_adapter: model.backbone.init_cfg.checkpoint must name the '
            'base checkpoint the adapter file is restored on')
    return write_adapter_files(model, out_dir, cfg,
                               base_record(backbone) if frozen else None,
                               dataset_meta)


def write_adapter_files(model, out_dir, cfg, base, dataset_meta=None):
    """The writing half of :func:`save_adapter`, with the base record
    ``base`` given (no check, no fingerprint computed)."""
    config = adapter_config(cfg, tuned_backbone(model), base)
    # The modules' state-dict versions, and the base record where the
    # backbone's load pre-hook reads it.
    metadata = {k: dict(v) for k, v in
                unwrap_model(model).state_dict()._metadata.items()}
    if base is not None:
        metadata.setdefault('backbone', {})[BASE_RECORD_KEY] = base
    os.makedirs(out_dir, exist_ok=True)
    save_safetensors_checkpoint(
        osp.join(out_dir, ADAPTER_FILE), adapter_state_dict(model),
        meta=dict(adapter=config, **({} if dataset_meta is None else dict(
            dataset_meta=_plain(dataset_meta)))),
        state_dict_metadata=metadata)
    with open(osp.join(out_dir, CONFIG_FILE), 'w') as file:
        json.dump(config, file, indent=1)
    return config


def load_checked_checkpoint(model, filename):
    """Load ``filename`` (any checkpoint mmengine reads, ``.safetensors``
    included; weights-only) into ``model`` as ``load_from`` does, after
    :func:`check_checkpoint_matches`; an adapter-only state has its frozen
    weights restored from the backbone's base. Returns the checkpoint."""
    checkpoint = CheckpointLoader.load_checkpoint(filename,
                                                  map_location='cpu')
    check_checkpoint_matches(unwrap_model(model),
                             checkpoint.get('state_dict', checkpoint),
                             filename)
    return _load_checkpoint_to_model(unwrap_model(model), checkpoint,
                                     strict=True)


def build_model_from_checkpoint(cfg, checkpoint):
    """Build ``cfg.model`` in ``cfg.default_scope`` and load ``checkpoint``
    into it with :func:`load_checked_checkpoint` (both checkpoint paths of
    the config checked first). Returns ``(model in eval mode, the loaded
    checkpoint)``."""
    cfg.load_from = checkpoint
    check_checkpoint_paths(cfg)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    return model.eval(), load_checked_checkpoint(model, checkpoint)


def config_checkpoint_parser(description, checkpoint_help):
    """An argument parser with ``config``, ``checkpoint`` and
    ``--cfg-options``, for tools that read a trained model (add their own
    output argument, then :func:`model_from_args`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='the config CHECKPOINT was trained '
                        'with')
    parser.add_argument('checkpoint', help=checkpoint_help)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    return parser


def model_from_args(args):
    """``(cfg, model, checkpoint)`` from :func:`config_checkpoint_parser`'s
    arguments (see :func:`build_model_from_checkpoint`)."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return (cfg, *build_model_from_checkpoint(cfg, args.checkpoint))


def load_adapter(model, path):
    """Load an adapter file into ``model`` (built from the adapter's
    config, its backbone's ``init_cfg`` naming the base checkpoint).

    Args:
        model: A detector or segmentor with a tuned Swin backbone.
        path (str): The directory :func:`save_adapter` wrote, or its
            ``adapter.safetensors``.

    Returns:
        dict: The adapter config recorded in the file.

    Raises:
        FileNotFoundError: no adapter file at ``path``.
        CheckpointMismatchError: keys or shapes differ from the model's.
        ValueError: the base's fingerprint differs from the recorded one.
    """
    filename = osp.join(path, ADAPTER_FILE) if osp.isdir(path) else path
    if not osp.isfile(filename):
        raise FileNotFoundError(f'load_adapter: no adapter file {filename}')
    return load_checked_checkpoint(model, filename)['meta'].get('adapter')
