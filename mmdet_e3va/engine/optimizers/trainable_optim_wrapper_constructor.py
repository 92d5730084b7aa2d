"""An optimizer-wrapper constructor that hands the optimizer only the
trainable parameters and says so in one log line."""
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

    Use: ``optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor',
    ...)``; registered in mmengine's ``OPTIM_WRAPPER_CONSTRUCTORS``, so mmdet
    and mmseg configs find it.
    """

    def __call__(self, model):
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
