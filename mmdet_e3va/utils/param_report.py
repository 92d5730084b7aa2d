"""Trainable/total parameter counts of a detector or segmentor, split into
backbone, neck and head (everything else)."""
from .model_wrapper import unwrap_model


def _group(name):
    top = name.split('.', 1)[0]
    return top if top in ('backbone', 'neck') else 'head'


def parameter_report(model):
    """Return ``{group: {'trainable': n, 'total': n, 'trainable_share': f}}``
    for ``backbone``, ``neck``, ``head`` and ``all``."""
    model = unwrap_model(model)
    counts = {g: dict(trainable=0, total=0)
              for g in ('backbone', 'neck', 'head', 'all')}
    for name, param in model.named_parameters():
        for group in (_group(name), 'all'):
            counts[group]['total'] += param.numel()
            counts[group]['trainable'] += param.numel() * param.requires_grad
    for group in counts.values():
        group['trainable_share'] = (group['trainable'] / group['total']
                                    if group['total'] else 0.0)
    return counts


def format_report(counts):
    """PEFT-style lines, one per group."""
    return '\n'.join(
        f'{group:>8}: trainable params: {c["trainable"]:,} || all params: '
        f'{c["total"]:,} || trainable%: {100 * c["trainable_share"]:.4f}'
        for group, c in counts.items())
