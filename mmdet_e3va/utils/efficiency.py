"""Memory measurements that work on CPU as well as CUDA."""
import gc
import resource

import torch
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile
from torch.profiler._memory_profiler import (_CATEGORY_TO_INDEX, Category,
                                             MemoryProfileTimeline)

# JSON names of torch.profiler's memory categories (None: not attributed).
MEMORY_CATEGORIES = {
    Category.PARAMETER: 'parameters',
    Category.GRADIENT: 'gradients',
    Category.OPTIMIZER_STATE: 'optimizer_state',
    Category.ACTIVATION: 'activations',
    Category.TEMPORARY: 'temporaries',
    Category.INPUT: 'inputs',
    Category.AUTOGRAD_DETAIL: 'autograd_detail',
    None: 'unattributed',
}


def _storage_bytes(tensors, device):
    """Bytes of the distinct storages of ``tensors`` on ``device``."""
    storages = {}
    for t in tensors:
        if torch.is_tensor(t) and t.device.type == device.type:
            storages[t.untyped_storage().data_ptr()] = (
                t.untyped_storage().nbytes())
    return storages


def state_tensors(model, optimizer=None):
    """The tensors a training step starts with: parameters, buffers, the
    gradients present and the optimizer state."""
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    if optimizer is not None:
        tensors += [v for s in optimizer.state.values() for v in s.values()]
    return tensors


class PeakMemoryMeter:
    """Context manager measuring the peak of live tensor memory while open.

    On CPU the peak comes from ``torch.profiler``'s memory events: the
    ``state`` tensors alive at entry (see :func:`state_tensors`) plus the
    running maximum of the bytes allocated, and not yet freed, inside the
    context. On CUDA it is ``torch.cuda.max_memory_allocated`` since entry
    (everything allocated, context excluded; no profiler without
    ``breakdown``).

    With ``breakdown=True`` the profiler also records shapes and Python
    stacks, and torch's memory timeline attributes every live byte to
    parameters, gradients, optimizer state, activations (forward outputs
    kept for backward), temporaries, inputs, autograd detail or
    unattributed; ``breakdown`` holds these bytes at the moment of the
    timeline's peak, and ``state`` bytes the step never touched are added
    to ``parameters`` (the timeline sees only tensors an op used). This
    costs seconds per step; without it the overhead is small.

    Attributes (after exit): ``peak_bytes`` (int); ``breakdown`` (dict
    name -> bytes, or None); ``timeline_peak_bytes`` (the timeline's own
    total at its peak, or None).
    """

    def __init__(self, device='cpu', state=(), breakdown=False):
        self.device = torch.device(device)
        if self.device.type == 'cuda' and self.device.index is None:
            self.device = torch.device('cuda', torch.cuda.current_device())
        self.state = list(state)
        self.with_breakdown = breakdown
        self.peak_bytes = None
        self.breakdown = None
        self.timeline_peak_bytes = None

    def __enter__(self):
        self._state_storages = _storage_bytes(self.state, self.device)
        self.state = None
        activities = [ProfilerActivity.CPU]
        if self.device.type == 'cuda':
            activities.append(ProfilerActivity.CUDA)
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            if not self.with_breakdown:
                self._profiler = None
                return self
        self._profiler = profile(
            activities=activities, profile_memory=True,
            record_shapes=self.with_breakdown,
            with_stack=self.with_breakdown)
        self._profiler.__enter__()
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        if self._profiler is None:
            return False
        try:
            self._profiler.__exit__(*exc)
            if exc[0] is None and self.device.type == 'cpu':
                self.peak_bytes = (sum(self._state_storages.values()) +
                                   self._peak_allocated_in_context())
            if exc[0] is None and self.with_breakdown:
                self._set_breakdown()
        finally:
            # torch.profiler's objects form reference cycles, which only a
            # full collection frees: without it every profiled step's
            # events stayed in host memory (tens of MB each).
            self._profiler = None
            gc.collect()
        return False

    def _allocations(self):
        """``(time_ns, ptr, bytes)`` of this device's allocations (bytes >
        0) and frees (bytes < 0), in time order."""
        stack = list(self._profiler.profiler.kineto_results
                     .experimental_event_tree())
        events = []
        while stack:
            event = stack.pop()
            stack.extend(event.children)
            if event.typed[0] != _EventType.Allocation:
                continue
            fields = event.typed[1]
            if fields.device.type == self.device.type:
                events.append(
                    (event.start_time_ns, fields.ptr, fields.alloc_size))
        return sorted(events)

    def _peak_allocated_in_context(self):
        live, current, peak = {}, 0, 0
        for _, ptr, nbytes in self._allocations():
            if nbytes > 0:
                live[ptr] = nbytes
                current += nbytes
                peak = max(peak, current)
            elif ptr in live:  # frees of earlier blocks: kept in `state`
                current -= live.pop(ptr)
        return peak

    def _set_breakdown(self):
        memory_profile = self._profiler._memory_profile()
        _, sizes = MemoryProfileTimeline(memory_profile)._coalesce_timeline(
            str(self.device))
        at_peak = max(sizes, key=sum) if sizes else [0] * (
            len(_CATEGORY_TO_INDEX) + 1)
        # sizes[t][0] is unused by torch; categories start at index 1.
        self.breakdown = {
            name: at_peak[_CATEGORY_TO_INDEX[category] + 1]
            for category, name in MEMORY_CATEGORIES.items()
        }
        self.timeline_peak_bytes = sum(at_peak)
        seen = {key.storage.ptr for key, _ in
                memory_profile._category_snapshot()}
        self.breakdown['parameters'] += sum(
            nbytes for ptr, nbytes in self._state_storages.items()
            if ptr not in seen)


def peak_rss_bytes():
    """The process's peak resident set size so far (Linux: KiB -> bytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
