"""E3VA (arXiv 2306.09729) for Swin backbones in MMDetection 3.x and
MMSegmentation 1.x. Importing the package registers its modules."""
from .utils import install_safe_checkpoint_loading

install_safe_checkpoint_loading()

from . import engine, models  # noqa: E402,F401  (registers modules)
from .engine.unreadable_images import name_unreadable_images  # noqa: E402

name_unreadable_images()

__version__ = '0.1.0'

from .adapter_files import load_adapter, save_adapter  # noqa: E402,F401
