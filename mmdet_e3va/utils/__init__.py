from .checkpoint_integrity import CorruptCheckpointError
from .cli import int_at_least
from .efficiency import (MEMORY_CATEGORIES, PeakMemoryMeter, peak_rss_bytes,
                         state_tensors)
from .model_wrapper import unwrap_model
from .param_report import format_report, parameter_report
from .safe_checkpoint import (UnsafeCheckpointError,
                              install_safe_checkpoint_loading)

__all__ = [
    'MEMORY_CATEGORIES', 'PeakMemoryMeter', 'peak_rss_bytes',
    'state_tensors', 'format_report',
    'parameter_report', 'UnsafeCheckpointError', 'CorruptCheckpointError',
    'install_safe_checkpoint_loading', 'unwrap_model', 'int_at_least'
]
