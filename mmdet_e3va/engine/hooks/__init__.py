from .adapter_checkpoint_hook import AdapterCheckpointHook
from .checkpoint_match_hook import (CheckpointMatchHook,
                                    CheckpointMismatchError)
from .efficiency_hook import EfficiencyHook
from .random_state_hook import RandomStateHook
from .trainable_params_hook import TrainableParamsHook

__all__ = [
    'AdapterCheckpointHook', 'CheckpointMatchHook', 'CheckpointMismatchError',
    'EfficiencyHook', 'RandomStateHook', 'TrainableParamsHook'
]
