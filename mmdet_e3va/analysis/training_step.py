"""One real training iteration (``model.train_step``: preprocessing,
forward, backward, optimizer step) on a fixed random batch, measured."""
import random
import statistics
import time

import numpy as np
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData, PixelData

from ..utils import SavedTensorMeter, peak_rss_bytes


def random_batch(cfg, batch_size, img_size, seed=0):
    """A fixed random batch for ``cfg``'s task: images ``(3, S, S)`` uint8
    and, per image, 8 random boxes (+ masks) or a random label map."""
    gen = torch.Generator().manual_seed(seed)
    size = (img_size, img_size)
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
            xy = torch.rand(8, 2, generator=gen) * img_size * 0.6
            wh = (0.1 + 0.3 * torch.rand(8, 2, generator=gen)) * img_size
            boxes = torch.cat([xy, (xy + wh).clamp(max=img_size - 1)], 1)
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


def time_backbone(model, batch, iters, cuda):
    """Median seconds of the backbone's forward + backward alone (loss:
    its outputs times fixed random weights), after one warm-up: the part of
    a step that a tuning method changes, free of the heads' data-dependent
    cost (proposal sampling, RoIAlign on RoIs of varying size)."""
    inputs = model.data_preprocessor(batch, True)['inputs']
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(o.shape, generator=gen).to(o.device)
               for o in model.backbone(inputs)]
    times = []
    for _ in range(iters + 1):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        outs = model.backbone(inputs)
        loss = sum((o * w).sum() for o, w in zip(outs, weights))
        if loss.requires_grad:
            loss.backward()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    return statistics.median(times[1:])


def _nbytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


def measure_training(model, cfg, batch, warmup, iters, device, amp=False):
    """Run ``warmup`` + ``iters`` training steps; return trainable/total
    parameters, the timed steps' seconds (``step_times``, median
    ``seconds_per_iter``) and memory figures in bytes. Every step is seeded
    with its index, so proposal and RoI sampling (a large share of a
    detector's step time) do the same work for every method."""
    model = revert_sync_batchnorm(model).to(device).train()
    wrapper_cfg = cfg.optim_wrapper.copy()
    wrapper_cfg['type'] = 'AmpOptimWrapper' if amp else 'OptimWrapper'
    wrapper_cfg.pop('loss_scale', None)
    if amp:
        wrapper_cfg['loss_scale'] = 'dynamic'
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    cuda = device.startswith('cuda')
    times, saved = [], []
    for step in range(warmup + iters):
        random.seed(step)
        np.random.seed(step)
        torch.manual_seed(step)
        if step == warmup and cuda:
            torch.cuda.reset_peak_memory_stats()
        if cuda:
            torch.cuda.synchronize()
        meter = SavedTensorMeter(exclude=params)
        start = time.perf_counter()
        with meter:
            model.train_step(batch, optim_wrapper)
        if cuda:
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
            saved.append(meter.nbytes)
    state = [v for s in optim_wrapper.optimizer.state.values()
             for v in s.values() if torch.is_tensor(v)]
    result = dict(
        trainable_params=sum(p.numel() for p in trainable),
        total_params=sum(p.numel() for p in params),
        step_times=times,
        seconds_per_iter=statistics.median(times),
        saved_for_backward_bytes=max(saved),
        param_bytes=_nbytes(params),
        grad_bytes=_nbytes(trainable),
        optimizer_state_bytes=_nbytes(state),
        peak_rss_bytes=peak_rss_bytes())
    result['backbone_seconds_per_iter'] = time_backbone(model, batch, iters,
                                                        cuda)
    result['training_memory_bytes'] = (
        torch.cuda.max_memory_allocated() if cuda else
        result['saved_for_backward_bytes'] + result['param_bytes'] +
        result['grad_bytes'] + result['optimizer_state_bytes'])
    return result
