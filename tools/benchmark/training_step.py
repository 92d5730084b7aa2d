"""Real training iterations (``model.train_step``: preprocessing, forward,
backward, optimizer step) and inference (``model.test_step``) on a fixed
random batch, timed, with their peak memory."""
import contextlib
import random
import statistics
import time

import numpy as np
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.structures import InstanceData, PixelData
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from mmdet_e3va.utils import PeakMemoryMeter, peak_rss_bytes, state_tensors


def random_batch(cfg, batch_size, img_size, seed=0):
    """A fixed random batch for ``cfg``'s task: images ``(3, H, W)`` uint8
    (``img_size``: S or ``(H, W)``) and, per image, 8 random boxes (+ masks)
    or a random label map."""
    gen = torch.Generator().manual_seed(seed)
    size = ((img_size, img_size) if isinstance(img_size, int) else
            tuple(img_size))
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, *size), generator=gen,
                                    dtype=torch.uint8))
        meta = dict(img_shape=size, ori_shape=size, pad_shape=size,
                    scale_factor=(1., 1.))
        if cfg.default_scope == 'mmseg':
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            sample.gt_sem_seg = PixelData(data=torch.randint(
                0, cfg.model.decode_head.num_classes, (1, *size),
                generator=gen))
        else:
            from mmdet.structures import DetDataSample
            from mmdet.structures.mask import BitmapMasks
            sample = DetDataSample(metainfo=meta)
            wh_max = torch.tensor(size[::-1], dtype=torch.float)
            xy = torch.rand(8, 2, generator=gen) * wh_max * 0.6
            wh = (0.1 + 0.3 * torch.rand(8, 2, generator=gen)) * wh_max
            boxes = torch.cat([xy, torch.minimum(xy + wh, wh_max - 1)], 1)
            instances = InstanceData(
                bboxes=boxes,
                labels=torch.randint(0, 3, (8, ), generator=gen))
            masks = np.zeros((8, *size), np.uint8)
            for mask, (x1, y1, x2, y2) in zip(masks, boxes.int().tolist()):
                mask[y1:y2, x1:x2] = 1
            instances.masks = BitmapMasks(masks, *size)
            sample.gt_instances = instances
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def amp_dtype(device):
    """Mixed precision's half type: bf16 on CPU (2-byte activations like
    fp16), fp16 on CUDA (the paper's)."""
    return torch.bfloat16 if device == 'cpu' else torch.float16


def autocast(device, amp):
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=amp_dtype(device))


class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under bf16 autocast on CPU
    (mmengine's ``AmpOptimWrapper`` needs a GPU; bf16 needs no loss
    scaling)."""

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), autocast('cpu', True):
            yield


_MATMULS = {
    torch.ops.aten.mm.default, torch.ops.aten.addmm.default,
    torch.ops.aten.bmm.default, torch.ops.aten.baddbmm.default,
    torch.ops.aten.convolution.default,
    torch.ops.aten.convolution_backward.default
}
_HALF = (torch.bfloat16, torch.float16)


class HalfMatmulsInFP32(TorchDispatchMode):
    """Runs half-precision matmuls and convolutions in fp32 and casts their
    results back to the half type: every tensor that outlives an op has the
    dtype and size it has with native half kernels, at fp32 speed. For CPUs
    without bf16 matrix units, where a bf16 matmul is ~50x slower than an
    fp32 one. Memory cost: the op's fp32 copies, freed at once (visible as
    temporaries)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        half = {t.dtype for t in tree_flatten((args, kwargs))[0]
                if torch.is_tensor(t) and t.dtype in _HALF}
        if func not in _MATMULS or not half:
            return func(*args, **kwargs)
        dtype = half.pop()
        args, kwargs = tree_map(
            lambda t: t.float() if torch.is_tensor(t) and t.dtype in _HALF
            else t, (args, kwargs))
        return tree_map(
            lambda t: t.to(dtype) if torch.is_tensor(t) and t.dtype ==
            torch.float32 else t, func(*args, **kwargs))


def half_matmuls(device, half):
    """:class:`HalfMatmulsInFP32` on CPU when ``half`` (the run computes in
    half precision), else nothing."""
    if half and torch.device(device).type == 'cpu':
        return HalfMatmulsInFP32()
    return contextlib.nullcontext()


def _sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def _seed(step):
    random.seed(step)
    np.random.seed(step)
    torch.manual_seed(step)


def time_backbone(model, batch, iters, device, amp, half):
    """Median seconds of the backbone's forward + backward alone (loss:
    its outputs times fixed random weights), after one warm-up: the part of
    a step that a tuning method changes, free of the heads' data-dependent
    cost (proposal sampling, RoIAlign on RoIs of varying size)."""
    inputs = model.data_preprocessor(batch, True)['inputs']
    gen = torch.Generator().manual_seed(0)
    with autocast(device, amp), half_matmuls(device, half):
        weights = [torch.randn(o.shape, generator=gen).to(o.device)
                   for o in model.backbone(inputs)]
    times = []
    for _ in range(iters + 1):
        _sync(device)
        start = time.perf_counter()
        with half_matmuls(device, half):
            with autocast(device, amp):
                outs = model.backbone(inputs)
                loss = sum((o.float() * w).sum()
                           for o, w in zip(outs, weights))
            if loss.requires_grad:
                loss.backward()
        _sync(device)
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    return times[1:]


def _optim_wrapper(model, cfg, device, amp, update_weights):
    wrapper_cfg = cfg.optim_wrapper.copy()
    wrapper_cfg.pop('loss_scale', None)
    wrapper_cfg.pop('dtype', None)
    wrapper_cfg['type'] = 'OptimWrapper'
    if amp and device == 'cpu':
        wrapper_cfg['type'] = CPUAutocastOptimWrapper
    elif amp:
        wrapper_cfg.update(type='AmpOptimWrapper', dtype='float16',
                           loss_scale='dynamic')
    if not update_weights:
        wrapper_cfg['optimizer'] = dict(wrapper_cfg['optimizer'], lr=0.)
    return build_optim_wrapper(model, wrapper_cfg)


def measure_training(model, cfg, batch, warmup, iters, device, amp=False,
                     update_weights=False, warmup_batch=None, half=None):
    """Run ``warmup`` + ``iters`` timed training steps (``iters=0``: memory
    only, no timing), then one step under
    :class:`PeakMemoryMeter` with the breakdown (profiling slows it, so it
    is not timed). Every step is seeded with its index, and with
    ``update_weights=False`` the learning rate is 0 (the optimizer still
    does all its work), so every step of every method sees the same
    weights, proposals and sampled RoIs: the heads do identical work and
    only the tuning method's cost differs. ``warmup_batch`` (e.g. smaller
    images) replaces ``batch`` in the warm-up steps, which only need to
    create the optimizer state before a memory-only measurement. ``half``
    (default: ``amp``) runs :class:`HalfMatmulsInFP32` on CPU.

    Returns trainable/total parameters, ``step_times`` (seconds), the
    backbone-only times, ``training_memory_bytes`` (the peak, bytes) with
    its ``memory_breakdown``, and the process's peak RSS."""
    half = amp if half is None else half
    model = revert_sync_batchnorm(model).to(device).train()
    optim_wrapper = _optim_wrapper(model, cfg, device, amp, update_weights)
    params = list(model.parameters())
    times = []
    for step in range(warmup + iters):
        _seed(step)
        _sync(device)
        start = time.perf_counter()
        with half_matmuls(device, half):
            model.train_step(
                batch if step >= warmup or warmup_batch is None else
                warmup_batch, optim_wrapper)
        _sync(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    _seed(warmup)
    state = state_tensors(model, optim_wrapper.optimizer) + batch['inputs']
    with PeakMemoryMeter(device, state, breakdown=True) as meter, \
            half_matmuls(device, half):
        model.train_step(batch, optim_wrapper)
    return dict(
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        total_params=sum(p.numel() for p in params),
        step_times=times,
        backbone_step_times=(time_backbone(model, batch, iters, device, amp,
                                           half) if iters else []),
        training_memory_bytes=meter.peak_bytes,
        memory_breakdown=meter.breakdown,
        peak_rss_bytes=peak_rss_bytes())


def measure_inference(model, batch, iters, device, amp=False, half=None):
    """``model.test_step`` on ``batch`` (preprocessing, forward and
    post-processing): one warm-up, then ``iters`` timed runs and one under
    :class:`PeakMemoryMeter`. When the backbone's tuning method can
    ``merge`` into the frozen weights (LoRA), the merged model is measured
    too (``merged``). Returns ``images_per_s`` (median) and
    ``peak_memory_bytes``."""
    half = amp if half is None else half
    model = model.to(device).eval()
    num_images = len(batch['inputs'])

    def run():
        times = []
        for _ in range(iters + 1):
            _sync(device)
            start = time.perf_counter()
            with torch.no_grad(), autocast(device, amp), half_matmuls(
                    device, half):
                model.test_step(batch)
            _sync(device)
            times.append(time.perf_counter() - start)
        with torch.no_grad(), autocast(device, amp), half_matmuls(
                device, half), PeakMemoryMeter(
                    device, state_tensors(model) + batch['inputs']) as meter:
            model.test_step(batch)
        return dict(images_per_s=num_images / statistics.median(times[1:]),
                    seconds=times[1:], peak_memory_bytes=meter.peak_bytes)

    result = run()
    tuning = getattr(model.backbone, 'tuning', None)
    if hasattr(tuning, 'merge'):
        tuning.merge(model.backbone)
        result['merged'] = run()
    return result
