"""The frozen pass: no autograd graph, and optionally half precision."""
import contextlib

import torch

FROZEN_DTYPES = dict(bf16=torch.bfloat16, fp16=torch.float16)


def parse_frozen_dtype(name, owner):
    """``None`` or the torch dtype of ``name`` (``'bf16'``/``'fp16'``);
    ``ValueError`` naming ``owner``'s ``frozen_dtype`` option otherwise."""
    if name is None:
        return None
    if name not in FROZEN_DTYPES:
        raise ValueError(f'{owner}: frozen_dtype must be None or one of '
                         f'{sorted(FROZEN_DTYPES)}, got {name!r}')
    return FROZEN_DTYPES[name]


@contextlib.contextmanager
def frozen_pass(device_type, dtype):
    """``torch.no_grad()``, and autocast to ``dtype`` unless it is None
    (weights already stored in ``dtype`` are used as they are; None leaves
    an outer autocast as it is). One context manager: torch.compile traces
    it whole."""
    with torch.no_grad():
        if dtype is None:
            yield
        else:
            with torch.autocast(device_type, dtype=dtype):
                yield
