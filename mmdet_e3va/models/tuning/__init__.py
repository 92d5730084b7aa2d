from .base import BaseTuning
from .block_adapters import (AdaptFormerTuning, HoulsbyAdapterTuning,
                             LoRandTuning, MonaTuning)
from .e3va import E3VATuning
from .e3va_plus import E3VAPlusTuning
from .lora import LoRATuning
from .parameter_selection import (BitFit, FrozenBackbone, FullFineTuning,
                                  FullFineTuningExcept, LayerNormTuning,
                                  PartialTuning)

__all__ = [
    'BaseTuning', 'AdaptFormerTuning', 'HoulsbyAdapterTuning', 'LoRandTuning',
    'MonaTuning', 'E3VATuning', 'E3VAPlusTuning',
    'LoRATuning', 'BitFit', 'FrozenBackbone',
    'FullFineTuning', 'FullFineTuningExcept', 'LayerNormTuning',
    'PartialTuning'
]
