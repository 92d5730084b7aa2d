"""Loading a config for analysis: overrides, a tuning-method swap (with
the benchmark's method suffixes), and building its model without
downloading pretrained weights."""
import contextlib

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

TUNED_TYPES = ('TunedSwinTransformer', )
# Method suffixes: gradient checkpointing, mixed precision, E3VA's
# frozen_dtype and E3VA's tap_dtype.
FROZEN_DTYPE_SUFFIXES = ('bf16', 'fp16')
TAP_DTYPE_SUFFIXES = {'tap-bf16': 'bf16', 'tap-fp16': 'fp16',
                      'tap-int8': 'int8'}
SUFFIXES = ('cp', 'amp') + FROZEN_DTYPE_SUFFIXES + tuple(TAP_DTYPE_SUFFIXES)


def load_config(path, cfg_options=None, method=None):
    """Read ``path``, merge ``cfg_options`` and, with ``method``, replace
    ``model.backbone.tuning`` by ``dict(type=method)``. Pretrained weights
    are not loaded by :func:`build_model`, so ``init_cfg`` stays as is."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if method is not None:
        backbone = cfg.model.backbone
        if backbone.type not in TUNED_TYPES:
            raise ValueError(
                f'{path}: model.backbone.type={backbone.type!r}; swapping '
                f'the tuning method needs one of {TUNED_TYPES}')
        backbone.tuning = dict(type=method)
    return cfg


def build_model(cfg, empty_weights=False):
    """Build ``cfg.model`` in its default scope (weights as constructed:
    ``init_weights`` is not called, nothing is downloaded). With
    ``empty_weights`` every parameter lives on the meta device (no storage,
    no initialisation): enough to count parameters, and quick even for
    Swin-L detectors."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    if cfg.default_scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    if not empty_weights:
        return MODELS.build(cfg.model)
    with _parameters_on_meta():
        return MODELS.build(cfg.model)


def reset_outside_backbone(model, seed=0):
    """Re-initialise every module of ``model`` outside its backbone (neck,
    heads) that has ``reset_parameters``, in module order from ``seed``:
    building a tuning method's modules draws random numbers before the
    neck and heads are built, so without this each method would train
    differently initialised heads, whose proposals (and so the RoIs and
    memory of the heads) differ."""
    torch.manual_seed(seed)
    for name, child in model.named_children():
        if name == 'backbone':
            continue
        for module in child.modules():
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()


@contextlib.contextmanager
def _parameters_on_meta():
    """Register every new parameter as a meta tensor of its shape."""
    register = nn.Module.register_parameter

    def register_on_meta(module, name, param):
        if param is not None and param.device.type != 'meta':
            param = nn.Parameter(param.to('meta'), param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = register_on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def tuning_name(cfg):
    """The tuning method of ``cfg.model.backbone``."""
    backbone = cfg.model.backbone
    if backbone.type == 'E3VASwinTransformer':
        return 'E3VA'
    return backbone.get('tuning', {}).get('type', 'Full')


def tuning_spec(cfg):
    """The tuning method of ``cfg.model.backbone`` with its options, e.g.
    ``LoRA(rank=64, alpha=1, targets=('q', 'v'))``."""
    backbone = cfg.model.backbone
    if backbone.type == 'E3VASwinTransformer':
        return 'E3VA'
    options = dict(backbone.get('tuning', dict(type='Full')))
    options.pop('_delete_', None)
    name = options.pop('type')
    args = ', '.join(f'{k}={_plain(v)!r}' for k, v in options.items())
    return f'{name}({args})' if args else name


def _plain(value):
    """Config lists/tuples/dicts as plain Python values (for printing)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def parse_method(method):
    """``'E3VA+bf16+tap-int8'`` -> ``('E3VA', {'bf16', 'tap-int8'})``:
    a registered tuning method and its suffixes (``ValueError`` naming
    ``method`` otherwise). ``+cp``: gradient checkpointing (upstream
    ``with_cp``); ``+amp``: mixed precision; ``+bf16`` / ``+fp16``: E3VA's
    ``frozen_dtype``; ``+tap-bf16`` / ``+tap-fp16`` / ``+tap-int8``: E3VA's
    ``tap_dtype`` (the last two kinds for E3VA and its variants only)."""
    from mmdet_e3va.models.tuning import E3VATuning
    from mmdet_e3va.registry import TUNINGS
    name, *suffixes = method.split('+')
    suffixes = set(suffixes)
    if (suffixes - set(SUFFIXES)
            or len(suffixes & set(FROZEN_DTYPE_SUFFIXES)) > 1
            or len(suffixes & set(TAP_DTYPE_SUFFIXES)) > 1):
        raise ValueError(f'method {method}: suffixes must be among '
                         f'{SUFFIXES}, at most one frozen dtype and one tap '
                         f'dtype')
    tuning = TUNINGS.get(name)
    if tuning is None:
        known = ', '.join(sorted(TUNINGS.module_dict))
        raise ValueError(f'method {method}: {name!r} is not a registered '
                         f'tuning method ({known})')
    dtype_suffixes = suffixes & (set(FROZEN_DTYPE_SUFFIXES)
                                 | set(TAP_DTYPE_SUFFIXES))
    if dtype_suffixes and not issubclass(tuning, E3VATuning):
        raise ValueError(f'method {method}: {sorted(dtype_suffixes)} set '
                         f'frozen_dtype / tap_dtype, options of E3VA and '
                         f'E3VAPlus')
    return name, suffixes


def method_config(config, method, cfg_options=None):
    """The config of ``method`` (with suffixes, :func:`parse_method`) on
    ``config``: the tuning method swapped in (unless it is the config's
    own) and the suffixes applied; whether it runs under AMP, and whether
    it computes in half precision outside AMP (a half frozen pass)."""
    name, suffixes = parse_method(method)
    cfg = load_config(config, cfg_options)
    if name != tuning_name(cfg):
        cfg = load_config(config, cfg_options, name)
    backbone = cfg.model.backbone
    options = (backbone if backbone.type == 'E3VASwinTransformer' else
               backbone.tuning)
    if 'cp' in suffixes:
        backbone.with_cp = True
    for suffix in suffixes & set(FROZEN_DTYPE_SUFFIXES):
        options.frozen_dtype = suffix
    for suffix in suffixes & set(TAP_DTYPE_SUFFIXES):
        options.tap_dtype = TAP_DTYPE_SUFFIXES[suffix]
    return (cfg, 'amp' in suffixes,
            bool(suffixes & set(FROZEN_DTYPE_SUFFIXES)))
