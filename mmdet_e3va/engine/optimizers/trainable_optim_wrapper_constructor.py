"""An optimizer-wrapper constructor that hands the optimizer only the
trainable parameters and says so in one log line, optionally with a smaller
lr for the backbone's own (pretrained) parameters."""
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
    on top of any ``paramwise_cfg`` multiplier; new modules (a tuning
    method's ``backbone.tuning.*``, necks, heads) keep the optimizer's lr.

    Use: ``optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor',
    ...)``; registered in mmengine's ``OPTIM_WRAPPER_CONSTRUCTORS``, so mmdet
    and mmseg configs find it.
    """

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.swin_lr_mult = optim_wrapper_cfg.pop('swin_lr_mult', None)
        if self.swin_lr_mult is not None and not (
                isinstance(self.swin_lr_mult, (int, float))
                and self.swin_lr_mult > 0):
            raise ValueError('optim_wrapper.swin_lr_mult must be a number '
                             f'> 0, got {self.swin_lr_mult!r}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model):
        optim_wrapper = self._build(model)
        if self.swin_lr_mult is not None:
            self._scale_swin_lr(optim_wrapper.optimizer, unwrap_model(model))
        return optim_wrapper

    def _scale_swin_lr(self, optimizer, module):
        """Split every param group into the backbone's own parameters (lr
        times ``swin_lr_mult``) and the rest; before the first step."""
        if not hasattr(module, 'backbone'):
            raise ValueError('optim_wrapper.swin_lr_mult: the model '
                             f'{type(module).__name__} has no backbone')
        own = {id(p) for n, p in module.backbone.named_parameters()
               if not n.startswith('tuning.')}
        groups, scaled = [], 0
        for group in optimizer.param_groups:
            options = {k: v for k, v in group.items() if k != 'params'}
            swin = [p for p in group['params'] if id(p) in own]
            rest = [p for p in group['params'] if id(p) not in own]
            if swin:
                groups.append(dict(options, params=swin,
                                   lr=group['lr'] * self.swin_lr_mult))
                scaled += len(swin)
            if rest:
                groups.append(dict(options, params=rest))
        optimizer.param_groups = groups
        print_log(
            f'{type(self).__name__}: lr x{self.swin_lr_mult} for {scaled} '
            "trainable tensors of the backbone's own parameters",
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
