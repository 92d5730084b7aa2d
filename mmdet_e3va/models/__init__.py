from .adapters import DualLowRankAdapter, NormAffineDelta
from .backbones import E3VASwinTransformer

__all__ = ['DualLowRankAdapter', 'NormAffineDelta', 'E3VASwinTransformer']
