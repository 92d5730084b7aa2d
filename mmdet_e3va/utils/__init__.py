from .safe_checkpoint import (UnsafeCheckpointError,
                              install_safe_checkpoint_loading)

__all__ = ['UnsafeCheckpointError', 'install_safe_checkpoint_loading']
