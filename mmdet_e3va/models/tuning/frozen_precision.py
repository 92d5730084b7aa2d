"""A frozen backbone stored and run in half precision, and graph-free
half-precision activations that autograd keeps at half precision."""
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


def frozen_autocast(device_type, dtype):
    """Autocast to ``dtype`` for the frozen pass (weights already stored in
    ``dtype`` are used as they are, not re-cast), or nothing when ``dtype``
    is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=dtype)


class HalfSavedUpcasts(torch.autograd.graph.saved_tensors_hooks):
    """Context manager: :meth:`upcast` turns a graph-free half-precision
    tensor into the fp32 tensor fp32 modules expect, and whenever autograd
    saves that fp32 copy (or a view of it) for backward, the half tensor is
    kept instead and upcast again in backward. Under autocast the half
    tensor is handed over as it is (autocast casts it as needed).

    Works whatever the modules fed with the copies are; the copies made in
    one context live at most until the context exits.
    """

    def __init__(self):
        self._halves = {}
        super().__init__(self._pack, self._unpack)

    def upcast(self, tensor):
        if (tensor.dtype not in FROZEN_DTYPES.values()
                or torch.is_autocast_enabled(tensor.device.type)):
            return tensor
        full = tensor.float()
        self._halves[full.untyped_storage().data_ptr()] = (tensor, full)
        return full

    def __enter__(self):
        super().__enter__()
        return self

    def __exit__(self, *exc):
        self._halves.clear()
        return super().__exit__(*exc)

    def _pack(self, tensor):
        entry = self._halves.get(tensor.untyped_storage().data_ptr())
        if entry is None or tensor.dtype != torch.float32:
            return tensor
        return (entry[0], tensor.size(), tensor.stride(),
                tensor.storage_offset())

    @staticmethod
    def _unpack(packed):
        if torch.is_tensor(packed):
            return packed
        half, size, stride, offset = packed
        full = torch.empty_like(half, dtype=torch.float32).copy_(half)
        return full.as_strided(size, stride, offset)
