"""Refusal of mmengine's ``compile`` option before anything is built."""


def check_compile(cfg):
    """Raise ``ValueError`` naming the config key when ``cfg.compile`` asks
    for ``torch.compile``: mmengine compiles the whole ``train_step``, whose
    optimizer step crashes TorchDynamo, and compiling the model's forward
    alone fails in the tuned Swin backbone's frozen pass (TorchDynamo cannot
    trace it), so a run would compile for minutes and then crash."""
    if cfg.get('compile'):
        raise ValueError(
            f'compile={cfg.compile!r}: torch.compile does not work for this '
            'project\'s models (mmengine compiles the whole train_step, '
            'whose optimizer step crashes TorchDynamo, and the tuned Swin '
            'backbone\'s frozen pass cannot be traced); remove `compile` '
            'from the config (--cfg-options compile=None)')
