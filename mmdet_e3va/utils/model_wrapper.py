"""The model inside a (DDP) model wrapper."""
from mmengine.model import is_model_wrapper


def unwrap_model(model):
    """``model.module`` for an mmengine model wrapper, else ``model``."""
    return model.module if is_model_wrapper(model) else model
