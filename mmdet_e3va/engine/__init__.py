from .cpu_distributed import (DeviceAwareDistributedDataParallel,
                              setup_cpu_distributed)
from .hooks import AdapterCheckpointHook, EfficiencyHook, TrainableParamsHook

__all__ = [
    'DeviceAwareDistributedDataParallel', 'setup_cpu_distributed',
    'AdapterCheckpointHook', 'EfficiencyHook', 'TrainableParamsHook'
]
