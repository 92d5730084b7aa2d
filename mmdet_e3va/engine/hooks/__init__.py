from .adapter_checkpoint_hook import AdapterCheckpointHook
from .checkpoint_match_hook import (CheckpointMatchHook,
                                    CheckpointMismatchError)
from .crash_safe_checkpoint_hook import CrashSafeCheckpointHook
from .efficiency_hook import EfficiencyHook
from .random_state_hook import RandomStateHook
from .trainable_params_hook import TrainableParamsHook

__all__ = [
    'AdapterCheckpointHook', 'CheckpointMatchHook', 'CheckpointMismatchError',
    'CrashSafeCheckpointHook', 'EfficiencyHook', 'RandomStateHook',
    'TrainableParamsHook'
]
