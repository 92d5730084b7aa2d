"""PeakMemoryMeter on CPU: exact peaks of known allocations, and the
breakdown of a real training step (parameters, gradients, optimizer
state, activations)."""
import torch
import torch.nn as nn

from mmdet_e3va.utils import PeakMemoryMeter, state_tensors

MB = 2**20


def test_peak_of_known_allocations_is_exact():
    keep = torch.ones(MB // 4)  # 1 MiB alive before: passed as state
    with PeakMemoryMeter('cpu', [keep]) as meter:
        a = torch.empty(2 * MB, dtype=torch.uint8)
        b = torch.empty(3 * MB, dtype=torch.uint8)
        del a
        c = torch.empty(MB, dtype=torch.uint8)  # 4 MiB live: below the peak
        del b, c
        keep.mul_(2)  # in place: allocates nothing
    assert meter.peak_bytes == 1 * MB + 5 * MB
    assert meter.breakdown is None


def test_frees_of_earlier_tensors_do_not_lower_the_peak():
    earlier = torch.empty(4 * MB, dtype=torch.uint8)
    with PeakMemoryMeter('cpu') as meter:
        del earlier  # allocated before: not this context's to subtract
        x = torch.empty(2 * MB, dtype=torch.uint8)
        y = torch.empty(2 * MB, dtype=torch.uint8)
        del x, y
    assert meter.peak_bytes == 4 * MB


def _training_step(model, optimizer, x):
    loss = model(x).square().mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def test_breakdown_of_a_training_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 512), nn.GELU(), nn.Linear(512, 256),
                          nn.Linear(256, 8))
    model[3].requires_grad_(False)  # a frozen layer: no grad, no state
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad])
    x = torch.randn(64, 256)
    _training_step(model, optimizer, x)  # creates the optimizer state
    param_bytes = sum(p.numel() * 4 for p in model.parameters())
    trainable_bytes = sum(p.numel() * 4 for p in model.parameters()
                          if p.requires_grad)
    with PeakMemoryMeter('cpu', state_tensors(model, optimizer) + [x],
                         breakdown=True) as meter:
        _training_step(model, optimizer, x)
    b = meter.breakdown
    assert b['parameters'] == param_bytes
    # Peak: the optimizer step, with every gradient and AdamW's two
    # moments (plus its step counters) alive.
    assert b['gradients'] == trainable_bytes
    assert 2 * trainable_bytes <= b['optimizer_state'] < (
        2 * trainable_bytes + 1024)
    assert x.numel() * 4 <= b['inputs'] < x.numel() * 4 + 1024
    # The event-based peak and the timeline's agree.
    assert meter.timeline_peak_bytes == sum(b.values())
    assert abs(meter.peak_bytes - meter.timeline_peak_bytes) <= (
        0.02 * meter.peak_bytes)
    assert meter.peak_bytes >= param_bytes + 3 * trainable_bytes


def test_activations_are_what_backward_keeps():
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(128, 128) for _ in range(4)])
    x = torch.randn(512, 128)
    with PeakMemoryMeter('cpu', state_tensors(model) + [x],
                         breakdown=True) as meter:
        loss = model(x).sum()
        loss.backward()
    # At the peak (backward starts) the three hidden outputs the next
    # layers saved are alive: 3 x 512 x 128 fp32.
    assert meter.breakdown['activations'] >= 3 * 512 * 128 * 4
    with PeakMemoryMeter('cpu', state_tensors(model) + [x]) as no_grad:
        with torch.no_grad():
            model(x)
    assert no_grad.peak_bytes < meter.peak_bytes


def test_profiled_steps_leave_no_profiler_behind():
    """torch.profiler's objects form reference cycles: the meter frees them
    on exit, also after an error, or every profiled step's events stayed in
    host memory until Python's next full collection (the study's voc runs
    grew to 7-10 GB)."""
    import gc

    from torch.autograd.profiler import profile as recorded_events

    model = nn.Linear(64, 64)
    optimizer = torch.optim.AdamW(model.parameters())

    def alive():
        return sum(type(o) is recorded_events for o in gc.get_objects())

    enabled = gc.isenabled()
    gc.disable()  # only the meter's collection may free the cycles
    try:
        gc.collect()
        before = alive()
        for breakdown in (False, True):
            with PeakMemoryMeter('cpu', state_tensors(model, optimizer),
                                 breakdown=breakdown) as meter:
                _training_step(model, optimizer, torch.randn(8, 64))
            assert meter.peak_bytes > 0 and alive() == before
        try:
            with PeakMemoryMeter('cpu'):
                raise RuntimeError('step failed')
        except RuntimeError:
            pass
        assert alive() == before
    finally:
        if enabled:
            gc.enable()
