"""Helpers of the analysis tools (tools/analysis/)."""
from .model_configs import build_model, load_config, tuning_name
from .training_step import measure_inference, measure_training, random_batch

__all__ = [
    'build_model', 'load_config', 'tuning_name', 'measure_inference',
    'measure_training', 'random_batch'
]
