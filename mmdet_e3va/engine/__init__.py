from .cpu_distributed import (DeviceAwareDistributedDataParallel,
                              setup_cpu_distributed)
from .dataset_paths import check_dataset_paths
from .hooks import AdapterCheckpointHook, EfficiencyHook, TrainableParamsHook

__all__ = [
    'DeviceAwareDistributedDataParallel', 'setup_cpu_distributed',
    'check_dataset_paths',
    'AdapterCheckpointHook', 'EfficiencyHook', 'TrainableParamsHook'
]
