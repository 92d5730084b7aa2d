from .e3va_swin import E3VASwinTransformer

__all__ = ['E3VASwinTransformer']
