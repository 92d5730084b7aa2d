"""Memory measurements that work on CPU as well as CUDA."""
import resource

import torch


class SavedTensorMeter(torch.autograd.graph.saved_tensors_hooks):
    """Context manager counting the bytes autograd saves for backward.

    Counts each storage once (views share it) and skips the storages of
    ``exclude`` (e.g. the model's parameters, counted separately).
    ``nbytes`` is the total at exit, which is the peak: saved tensors live
    until backward.
    """

    def __init__(self, exclude=()):
        self.nbytes = 0
        self._seen = {p.untyped_storage().data_ptr() for p in exclude}
        super().__init__(self._pack, lambda tensor: tensor)

    def _pack(self, tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self._seen:
            self._seen.add(storage.data_ptr())
            self.nbytes += storage.nbytes()
        return tensor


def peak_rss_bytes():
    """The process's peak resident set size so far (Linux: KiB -> bytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
