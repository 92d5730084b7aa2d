from .dual_low_rank_adapter import DualLowRankAdapter
from .norm_affine_delta import NormAffineDelta

__all__ = ['DualLowRankAdapter', 'NormAffineDelta']
