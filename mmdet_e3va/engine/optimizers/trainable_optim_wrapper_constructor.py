"""An optimizer-wrapper constructor that hands the optimizer only the
trainable parameters and says so in one log line, optionally with lr
multipliers for the backbone's own (pretrained) parameters and for a tuning
method's new backbone modules."""
import logging

from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from ...utils import unwrap_model

# mmengine 0.10.7's DefaultOptimWrapperConstructor.add_params warns once per
# frozen parameter: f'{prefix}.{name} is skipped since its requires_grad=False'
FROZEN_PARAM_WARNING = 'is skipped since its requires_grad=False'


class _DropFrozenParamWarnings(logging.Filter):

    def filter(self, record):
        return FROZEN_PARAM_WARNING not in record.getMessage()


class _TrainableParameters:
    """What upstream's constructor reads of a model without paramwise_cfg
    (``parameters()``), restricted to the trainable parameters."""

    def __init__(self, module):
        self._module = module

    def parameters(self):
        return (p for p in self._module.parameters() if p.requires_grad)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` over the trainable parameters only.

    Every ``paramwise_cfg`` option (``custom_keys``, ``norm_decay_mult``,
    ``bias_decay_mult``, ...) works as upstream, and the param groups equal
    the default constructor's for the trainable parameters. Instead of
    upstream's warning per frozen parameter (331 on Swin-L), it logs one
    line with how many frozen tensors and elements are left out. Without
    ``paramwise_cfg``, where upstream hands the optimizer every parameter,
    it hands it the trainable ones.

    ``swin_lr_mult`` (a key of ``optim_wrapper``, optional) multiplies the lr
    of the backbone's own trainable parameters (``backbone.*`` outside
    ``backbone.tuning.*``: what Full, BitFit, LN-tune and Partial update),
    on top of any ``paramwise_cfg`` multiplier. ``tuning_lr_mult`` (optional)
    does the same for a tuning method's new backbone modules
    (``backbone.tuning.*``: adapters, LoRA, E3VA's highway); necks and heads
    keep the optimizer's lr.

    Use: ``optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor',
    ...)``; registered in mmengine's ``OPTIM_WRAPPER_CONSTRUCTORS``, so mmdet
    and mmseg configs find it.
    """

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.lr_mults = {}
        for key in ('swin_lr_mult', 'tuning_lr_mult'):
            mult = optim_wrapper_cfg.pop(key, None)
            if mult is None:
                continue
            if not (isinstance(mult, (int, float)) and mult > 0):
                raise ValueError(f'optim_wrapper.{key} must be a number > 0, '
                                 f'got {mult!r}')
            self.lr_mults[key] = mult
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model):
        optim_wrapper = self._build(model)
        if self.lr_mults:
            self._scale_lr(optim_wrapper.optimizer, unwrap_model(model))
        return optim_wrapper

    def _scale_lr(self, optimizer, module):
        """Split every param group by the backbone's own parameters (lr
        times ``swin_lr_mult``), its ``tuning.*`` modules (times
        ``tuning_lr_mult``) and the rest; before the first step."""
        if not hasattr(module, 'backbone'):
            raise ValueError(f'optim_wrapper.{next(iter(self.lr_mults))}: the '
                             f'model {type(module).__name__} has no backbone')
        part_of = {
            id(p): 'tuning_lr_mult' if n.startswith('tuning.')
            else 'swin_lr_mult'
            for n, p in module.backbone.named_parameters()
        }
        groups, scaled = [], dict.fromkeys(self.lr_mults, 0)
        for group in optimizer.param_groups:
            options = {k: v for k, v in group.items() if k != 'params'}
            parts = {key: [] for key in (*self.lr_mults, None)}
            for p in group['params']:
                key = part_of.get(id(p))
                parts[key if key in self.lr_mults else None].append(p)
            for key, params in parts.items():
                if params:
                    groups.append(dict(
                        options, params=params,
                        lr=group['lr'] * self.lr_mults.get(key, 1)))
                    if key:
                        scaled[key] += len(params)
        optimizer.param_groups = groups
        whose = dict(swin_lr_mult="the backbone's own parameters",
                     tuning_lr_mult="the backbone's tuning modules")
        for key, mult in self.lr_mults.items():
            print_log(
                f'{type(self).__name__}: lr x{mult:g} for {scaled[key]} '
                f'trainable tensors of {whose[key]}',
                logger='current')

    def _build(self, model):
        module = unwrap_model(model)
        frozen = [p for p in module.parameters() if not p.requires_grad]
        print_log(
            f'{type(self).__name__}: the optimizer leaves out {len(frozen)} '
            f'frozen parameter tensors ({sum(p.numel() for p in frozen):,} '
            'elements, requires_grad=False)',
            logger='current')
        if not self.paramwise_cfg:  # upstream: optimizer(model.parameters())
            return super().__call__(_TrainableParameters(module))
        quiet = _DropFrozenParamWarnings()
        logger = MMLogger.get_current_instance()
        logger.addFilter(quiet)
        try:
            return super().__call__(module)
        finally:
            logger.removeFilter(quiet)
