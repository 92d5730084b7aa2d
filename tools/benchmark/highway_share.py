"""How much E3VA's highway adds to the frozen features: per output stage,
the norm of the highway ``h_s`` against that of the frozen stage output
``x_s`` (both ``(B, H_s*W_s, C_s)``, before the output norm), measured on
a trained model's inputs. Zero at initialisation; it tells whether a
training run moved the features at all (helper of
``tools/analysis/highway_share.py``)."""
import torch
from torch.func import functional_call


def _norm_inputs(backbone, inputs, params=None):
    """The tensor each output norm of the tuning method receives
    (``x_s + h_s``), by stage, from one forward of ``backbone``."""
    seen = {}
    hooks = [
        delta.register_forward_hook(
            lambda module, args, out, stage=stage: seen.__setitem__(
                stage, args[0].detach()))
        for stage, delta in backbone.tuning.norm_deltas.items()
    ]
    try:
        with torch.no_grad():
            functional_call(backbone, params or {}, (inputs, ))
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def highway_share(backbone, batches):
    """Per output stage (``str`` index), over every image of ``batches``
    (preprocessed ``(B, 3, H, W)`` tensors): ``|h|/|x|`` (Frobenius norms)
    and the root-mean-square of ``h`` and of ``x``.

    ``x`` comes from a second forward with every tuning parameter but the
    norm deltas zeroed (the adapters then write nothing on the highway);
    ``backbone`` is a ``TunedSwinTransformer`` with E3VA or E3VAPlus.
    """
    if not hasattr(getattr(backbone, 'tuning', None), 'norm_deltas'):
        raise TypeError(
            f'{type(backbone).__name__}: highway_share needs a tuning method '
            'with a highway and output norm deltas (E3VA, E3VAPlus)')
    zeros = {
        name: torch.zeros_like(p)
        for name, p in backbone.named_parameters()
        if name.startswith('tuning.')
        and not name.startswith('tuning.norm_deltas.')
    }
    sums = {}  # stage -> [sum h^2, sum x^2, elements]
    for inputs in batches:
        with_highway = _norm_inputs(backbone, inputs)
        frozen = _norm_inputs(backbone, inputs, zeros)
        for stage, x in frozen.items():
            h = with_highway[stage] - x
            total = sums.setdefault(stage, [0.0, 0.0, 0])
            total[0] += h.pow(2).sum().item()
            total[1] += x.pow(2).sum().item()
            total[2] += x.numel()
    if not sums:
        raise ValueError('highway_share: no input batches')
    return {
        stage: dict(share=(h2 / x2)**0.5, rms_h=(h2 / n)**0.5,
                    rms_x=(x2 / n)**0.5)
        for stage, (h2, x2, n) in sorted(sums.items())
    }
