from .adapter_checkpoint_hook import AdapterCheckpointHook
from .efficiency_hook import EfficiencyHook
from .trainable_params_hook import TrainableParamsHook

__all__ = ['AdapterCheckpointHook', 'EfficiencyHook', 'TrainableParamsHook']
