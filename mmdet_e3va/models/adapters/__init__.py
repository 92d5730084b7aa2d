from .bottleneck_adapter import BottleneckAdapter
from .dual_low_rank_adapter import DualLowRankAdapter
from .dual_low_rank_conv_adapter import DualLowRankConvAdapter
from .lorand_adapter import LoRandAdapter
from .mona_adapter import MonaAdapter
from .norm_affine_delta import NormAffineDelta

__all__ = [
    'BottleneckAdapter', 'DualLowRankAdapter', 'DualLowRankConvAdapter',
    'LoRandAdapter', 'MonaAdapter', 'NormAffineDelta'
]
