"""Refusal of mmengine's ``compile`` option before anything is built."""


def check_compile(cfg):
    """Raise ``ValueError`` naming the config key when ``cfg.compile`` asks
    for ``torch.compile``: mmengine compiles the whole ``train_step``,
    whose optimizer step crashes TorchDynamo after minutes of compiling.
    The backbones themselves compile (``torch.compile(model.backbone,
    dynamic=True)``; E3VA's in one graph)."""
    if cfg.get('compile'):
        raise ValueError(
            f'compile={cfg.compile!r}: mmengine compiles the whole '
            'train_step, whose optimizer step crashes TorchDynamo; remove '
            '`compile` from the config (--cfg-options compile=None); the '
            'backbone alone compiles: torch.compile(model.backbone, '
            'dynamic=True)')
