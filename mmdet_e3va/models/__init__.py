from . import tuning  # noqa: F401  (registers the tuning methods)
from .adapters import (BottleneckAdapter, DualLowRankAdapter, LoRandAdapter,
                       MonaAdapter, NormAffineDelta)
from .backbones import E3VASwinTransformer, TunedSwinTransformer

__all__ = [
    'BottleneckAdapter', 'DualLowRankAdapter', 'LoRandAdapter', 'MonaAdapter',
    'NormAffineDelta', 'E3VASwinTransformer', 'TunedSwinTransformer'
]
