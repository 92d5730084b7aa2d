from .e3va_swin import E3VASwinTransformer
from .tuned_swin import TunedSwinTransformer

__all__ = ['E3VASwinTransformer', 'TunedSwinTransformer']
