from .checked_runner import CheckedRunner
from .cpu_distributed import (DeviceAwareDistributedDataParallel,
                              setup_cpu_distributed)
from .dataset_paths import check_dataset_paths
from .launch import add_launch_args, build_runner, load_launch_config
from .hooks import AdapterCheckpointHook, EfficiencyHook, TrainableParamsHook
from .optimizers import TrainableOptimWrapperConstructor

__all__ = [
    'CheckedRunner', 'DeviceAwareDistributedDataParallel',
    'setup_cpu_distributed',
    'check_dataset_paths', 'add_launch_args', 'build_runner',
    'load_launch_config',
    'AdapterCheckpointHook', 'EfficiencyHook', 'TrainableParamsHook',
    'TrainableOptimWrapperConstructor'
]
