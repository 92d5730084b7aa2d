"""Loading a config for analysis: overrides, a tuning-method swap, and
building its model without downloading pretrained weights."""
from mmengine.config import Config
from mmengine.registry import init_default_scope

TUNED_TYPES = ('TunedSwinTransformer', )


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


def build_model(cfg):
    """Build ``cfg.model`` in its default scope (weights as constructed:
    ``init_weights`` is not called, nothing is downloaded)."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    if cfg.default_scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    return MODELS.build(cfg.model)


def tuning_name(cfg):
    """The tuning method of ``cfg.model.backbone``."""
    backbone = cfg.model.backbone
    if backbone.type == 'E3VASwinTransformer':
        return 'E3VA'
    return backbone.get('tuning', {}).get('type', 'Full')
