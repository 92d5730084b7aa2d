"""Gradient error of E3VA's low-precision taps against exact (fp32) taps.

    python tools/analysis/tap_gradient_error.py [--tap-dtypes bf16 fp16 int8]
        [--images 4] [--seed 0]
        [--out docs/benchmarks/tap_gradient_error_study_swin.json]

The study's pretrained Swin (``docs/study/pretrained``, width 32, depths
2-2-6-2) with E3VA, every adapter weight moved off its (often zero)
initialisation by ``0.1 * N(0, 1)`` (seeded), runs ``--images`` target
scenes of the study (128 px) forward and backward with a fixed random linear
loss on its four outputs, once per ``tap_dtype``. The forward reads exact
taps in every case (its outputs are checked equal); the weight gradients are
compared with the exact run's: relative L2 error over all trainable
parameters together, and the largest of a single parameter. Deterministic:
no time is measured. Prints a table; writes the JSON.
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np
import torch

# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from tools.scenes.study_scenes import render_target_scene  # noqa: E402
from tools.study.mini_study import (CHECKPOINT, COMMITTED_PRETRAINED,  # noqa: E402
                                    ROOT)
from tools.study.mini_study_lr_sweep import study_backbone_args  # noqa: E402
from mmdet_e3va.models import TunedSwinTransformer  # noqa: E402
from mmdet_e3va.models.tuning.adapter_bank import TAP_DTYPES  # noqa: E402
from mmdet_e3va.utils import int_at_least  # noqa: E402
from mmdet_e3va.utils.safe_checkpoint import safe_torch_load  # noqa: E402

PRETRAINED = osp.join(ROOT, COMMITTED_PRETRAINED, osp.basename(CHECKPOINT))
# ImageNet mean / std, as the study configs' data preprocessor
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def scenes(num, seed, size=128):
    """``(num, 3, size, size)`` normalised study target scenes."""
    rng = np.random.default_rng(seed)
    images = np.stack([render_target_scene(rng, size)[0] for _ in range(num)])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(
        STD)[:, None, None]


def model_with(tap_dtype, state, seed):
    """The pretrained study Swin with E3VA at ``tap_dtype``, adapters
    initialised and perturbed with ``seed`` (the same weights for every
    ``tap_dtype``)."""
    torch.manual_seed(seed)
    model = TunedSwinTransformer(**study_backbone_args(),
                                 tuning=dict(type='E3VA',
                                             tap_dtype=tap_dtype))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith('tuning.') for k in missing):
        raise RuntimeError(f'{PRETRAINED} does not fit the study Swin: '
                           f'missing {missing}, unexpected {unexpected}')
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.tuning.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
    return model.train()


def outputs_and_gradients(model, x, seed):
    outs = model(x)
    gen = torch.Generator().manual_seed(seed + 1)
    sum((o * torch.randn(o.shape, generator=gen)).sum() for o in outs
        ).backward()
    return ([o.detach() for o in outs],
            {n: p.grad for n, p in model.named_parameters()
             if p.grad is not None})


def relative_error(value, reference):
    return float((value - reference).norm() / reference.norm())


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--tap-dtypes', nargs='+', choices=sorted(TAP_DTYPES),
                        default=['bf16', 'fp16', 'int8'])
    parser.add_argument('--images', type=int_at_least(1), default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out')
    args = parser.parse_args()
    state = safe_torch_load(PRETRAINED, 'the study checkpoint')['state_dict']
    x = scenes(args.images, args.seed)
    ref_outs, ref_grads = outputs_and_gradients(
        model_with(None, state, args.seed), x, args.seed)
    ref_flat = torch.cat([g.flatten() for g in ref_grads.values()])
    rows = {}
    for tap_dtype in args.tap_dtypes:
        outs, grads = outputs_and_gradients(
            model_with(tap_dtype, state, args.seed), x, args.seed)
        if not all(torch.equal(o, r) for o, r in zip(outs, ref_outs)):
            raise RuntimeError(f'tap_dtype={tap_dtype!r} changed the outputs')
        per_param = {n: relative_error(grads[n], ref_grads[n])
                     for n in ref_grads}
        worst = max(per_param, key=per_param.get)
        rows[tap_dtype] = dict(
            all_parameters=relative_error(
                torch.cat([grads[n].flatten() for n in ref_grads]), ref_flat),
            largest_parameter=per_param[worst], largest_name=worst)
    print(f'relative L2 gradient error against exact taps ({args.images} '
          f'study scenes, seed {args.seed})\n'
          '| tap_dtype | all parameters | largest single parameter |\n'
          '|---|---:|---:|')
    for tap_dtype, row in rows.items():
        print(f"| {tap_dtype} | {row['all_parameters']:.1e} | "
              f"{row['largest_parameter']:.1e} ({row['largest_name']}) |")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(vars(args), checkpoint=osp.relpath(PRETRAINED, ROOT),
                           torch=torch.__version__, rows=rows), f, indent=1)
        print(f'written to {args.out}')


if __name__ == '__main__':
    main()
