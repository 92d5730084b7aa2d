"""Model building and training-step measurement for the benchmark tools
(tools/analysis/benchmark_efficiency.py, count_params.py, highway_share.py)."""
from .model_configs import build_model, load_config, tuning_name
from .training_step import measure_inference, measure_training, random_batch

__all__ = [
    'build_model', 'load_config', 'tuning_name', 'measure_inference',
    'measure_training', 'random_batch'
]
