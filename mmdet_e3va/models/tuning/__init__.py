from .base import BaseTuning
from .block_adapters import (AdaptFormerTuning, HoulsbyAdapterTuning,
                             LoRandTuning, MonaTuning)
from .e3va import E3VATuning
from .lora import LoRATuning
from .parameter_selection import (BitFit, FrozenBackbone, FullFineTuning,
                                  LayerNormTuning, PartialTuning)

__all__ = [
    'BaseTuning', 'AdaptFormerTuning', 'HoulsbyAdapterTuning', 'LoRandTuning',
    'MonaTuning', 'E3VATuning', 'LoRATuning', 'BitFit', 'FrozenBackbone',
    'FullFineTuning', 'LayerNormTuning', 'PartialTuning'
]
