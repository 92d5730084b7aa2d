"""Registers this package's modules in both MMDetection's and
MMSegmentation's registries, so configs of either reach them by name, and
holds the registry of tuning methods."""
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import RUNNERS, Registry
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import MODELS as MMSEG_MODELS


def register_model(cls):
    """Class decorator: register ``cls`` in mmdet's and mmseg's MODELS."""
    MMDET_MODELS.register_module(module=cls)
    MMSEG_MODELS.register_module(module=cls)
    return cls


def register_hook(cls):
    """Class decorator: register ``cls`` in mmdet's and mmseg's HOOKS."""
    MMDET_HOOKS.register_module(module=cls)
    MMSEG_HOOKS.register_module(module=cls)
    return cls


def register_runner(cls):
    """Class decorator: register ``cls`` in mmengine's RUNNERS, which
    mmdet's and mmseg's inherit (a config names it as ``runner_type``; the
    upstream train scripts build it before any default scope is set)."""
    RUNNERS.register_module(module=cls)
    return cls


# Tuning methods for TunedSwinTransformer: ``tuning=dict(type=NAME, ...)``.
# Add your own with ``@TUNINGS.register_module()``.
TUNINGS = Registry('tuning method', locations=['mmdet_e3va.models.tuning'])
