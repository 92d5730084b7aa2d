from .efficiency import SavedTensorMeter, peak_rss_bytes
from .model_wrapper import unwrap_model
from .param_report import format_report, parameter_report
from .safe_checkpoint import (UnsafeCheckpointError,
                              install_safe_checkpoint_loading)

__all__ = [
    'SavedTensorMeter', 'peak_rss_bytes', 'format_report',
    'parameter_report', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loading', 'unwrap_model'
]
