"""Backbone time of E3VA against the frozen Swin, side by side in one process.

    python tools/analysis/backbone_time.py [--size t|s|b|l] [--img-size 384]
        [--batch-size 2] [--rounds 5] [--steps 3] [--compile]
        [--variants E3VA E3VA+tap-bf16 E3VA+tap-int8 E3VA+bf16 ...]
        [--threads 1] [--baseline-rev REV [--repeats 3]]
        [--out docs/benchmarks/cpu_backbone_time_swin-t_384.json]

Every variant is an ``E3VASwinTransformer`` of the same Swin size holding the
same frozen weights (one random Swin, copied into each; adapters at their
initialisation), so the variants differ only in how they run. A variant is
``E3VA`` with optional suffixes: ``+tap-bf16`` / ``+tap-fp16`` /
``+tap-int8`` (``tap_dtype``) and ``+bf16`` / ``+fp16`` (``frozen_dtype``).
The reference is the frozen Swin's forward alone (no autograd graph), the
pass E3VA runs beside its highway: a variant's figure is its forward +
backward (of the sum of its outputs) over the reference's forward. Steps
run in rounds, the variants in a rotated order within each round; times
are medians over all steps of all rounds, ``spread`` is (max - min) /
median. Denormal floats are flushed (random-init Swins drift into them on
CPU, which would time the denormals, not the method). With ``--compile``
every model is also run under ``torch.compile(dynamic=True)`` (compilation
is timed apart, outside the steps). With ``--baseline-rev REV`` the same
measurement runs alternately in this checkout and in a git worktree of
``REV`` (its ``mmdet_e3va`` imported instead), ``--repeats`` times each, as
separate processes; the variants ``REV`` does not know are left out there.
Prints a table; writes the JSON.
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from mmdet_e3va.models import E3VASwinTransformer, TunedSwinTransformer
from mmdet_e3va.utils import int_at_least

SIZES = dict(
    t=dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    s=dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    b=dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    l=dict(embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)))
SUFFIXES = {'tap-bf16': ('tap_dtype', 'bf16'),
            'tap-fp16': ('tap_dtype', 'fp16'),
            'tap-int8': ('tap_dtype', 'int8'),
            'bf16': ('frozen_dtype', 'bf16'),
            'fp16': ('frozen_dtype', 'fp16')}
REFERENCE = 'Frozen forward'


def parse_variant(name):
    """``'E3VA+tap-int8+bf16'`` -> ``E3VASwinTransformer`` options."""
    head, *suffixes = name.split('+')
    if head != 'E3VA':
        raise ValueError(f'--variants {name}: must start with E3VA')
    options = {}
    for suffix in suffixes:
        if suffix not in SUFFIXES:
            raise ValueError(f'--variants {name}: unknown suffix {suffix!r} '
                             f'(one of {sorted(SUFFIXES)})')
        key, value = SUFFIXES[suffix]
        options[key] = value
    return options


def build(args):
    """``{name: (model, runs backward)}``, the frozen reference first."""
    swin = dict(SIZES[args.size], window_size=7, out_indices=(0, 1, 2, 3))
    frozen = TunedSwinTransformer(tuning=dict(type='Frozen'), **swin).eval()
    state = frozen.state_dict()
    models = {REFERENCE: (frozen, False)}
    for name in args.variants:
        try:
            model = E3VASwinTransformer(**parse_variant(name), **swin)
        except TypeError:  # an option this checkout does not have
            if not args.skip_unknown:
                raise
            continue
        model.load_state_dict(state, strict=False)
        models[name] = (model.train(), True)
    return models


def step(model, backward, x):
    if not backward:
        with torch.no_grad():
            model(x)
        return
    sum(out.float().sum() for out in model(x)).backward()


def measure(models, x, rounds, steps):
    """Per model, the step times (s) of all rounds, rotated order."""
    times = {name: [] for name in models}
    names = list(models)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            model, backward = models[name]
            for _ in range(steps):
                start = time.perf_counter()
                step(model, backward, x)
                times[name].append(time.perf_counter() - start)
    return times


def summary(times):
    rows = {}
    reference = statistics.median(times[REFERENCE])
    for name, values in times.items():
        median = statistics.median(values)
        rows[name] = dict(seconds=median,
                          spread=(max(values) - min(values)) / median,
                          vs_frozen_forward=median / reference,
                          steps=len(values))
    return rows


def against_baseline(args):
    """Alternate this measurement between this checkout and ``REV``."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    runs = dict(current=[], baseline=[])
    with tempfile.TemporaryDirectory() as tmp:
        tree = osp.join(tmp, 'baseline')
        subprocess.run(['git', '-C', root, 'worktree', 'add', '--detach',
                        tree, args.baseline_rev], check=True,
                       capture_output=True)
        try:
            for repeat in range(args.repeats):
                for label, path in (('baseline', tree), ('current', root)):
                    out = osp.join(tmp, f'{label}{repeat}.json')
                    cmd = [sys.executable, osp.abspath(__file__), '--size',
                           args.size, '--img-size', str(args.img_size),
                           '--batch-size', str(args.batch_size), '--rounds',
                           str(args.rounds), '--steps', str(args.steps),
                           '--threads', str(args.threads), '--out', out,
                           '--skip-unknown', '--variants', *args.variants]
                    env = dict(os.environ, PYTHONPATH=path)
                    subprocess.run(cmd, check=True, env=env, cwd=path)
                    with open(out) as f:
                        runs[label].append(json.load(f)['eager'])
        finally:
            subprocess.run(['git', '-C', root, 'worktree', 'remove',
                            '--force', tree], check=True)
    result = {}
    for label, measured in runs.items():
        result[label] = {
            name: dict(vs_frozen_forward=statistics.median(
                m[name]['vs_frozen_forward'] for m in measured),
                       per_repeat=[m[name]['vs_frozen_forward']
                                   for m in measured])
            for name in measured[0]}
    return result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--size', default='t', choices=list(SIZES))
    parser.add_argument('--img-size', type=int_at_least(32), default=384)
    parser.add_argument('--batch-size', type=int_at_least(1), default=2)
    parser.add_argument('--rounds', type=int_at_least(1), default=5)
    parser.add_argument('--steps', type=int_at_least(1), default=3)
    parser.add_argument('--threads', type=int_at_least(1), default=1)
    parser.add_argument('--compile', action='store_true')
    parser.add_argument('--variants', nargs='+',
                        default=['E3VA', 'E3VA+tap-bf16', 'E3VA+tap-int8',
                                 'E3VA+bf16', 'E3VA+bf16+tap-int8'])
    parser.add_argument('--baseline-rev')
    parser.add_argument('--repeats', type=int_at_least(1), default=3)
    parser.add_argument('--skip-unknown', action='store_true',
                        help=argparse.SUPPRESS)
    parser.add_argument('--out')
    args = parser.parse_args()
    for name in args.variants:
        parse_variant(name)
    if args.baseline_rev:
        result = dict(vars(args), **against_baseline(args))
        print(f'\nbackbone / frozen forward, median of {args.repeats} '
              f'alternating processes each\n| variant | {args.baseline_rev} '
              '| this checkout |\n|---|---:|---:|')
        for name, row in result['current'].items():
            base = result['baseline'].get(name)
            print(f"| {name} | "
                  + (f"{base['vs_frozen_forward']:.2f}" if base else '-')
                  + f" | {row['vs_frozen_forward']:.2f} |")
        write(result, args.out)
        return
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size)
    models = build(args)
    for model, backward in models.values():  # warm-up
        step(model, backward, x)
    result = dict(
        size=args.size, img_size=args.img_size, batch_size=args.batch_size,
        rounds=args.rounds, steps=args.steps, threads=args.threads,
        device=f'cpu ({platform.processor() or platform.machine()}, '
        f'{os.cpu_count()} cores)', torch=torch.__version__,
        eager=summary(measure(models, x, args.rounds, args.steps)))
    if args.compile:
        compiled, compile_s = {}, {}
        for name, (model, backward) in models.items():
            start = time.perf_counter()
            fn = torch.compile(model, dynamic=True)
            step(fn, backward, x)
            compile_s[name] = time.perf_counter() - start
            compiled[name] = (fn, backward)
        result['compiled'] = summary(
            measure(compiled, x, args.rounds, args.steps))
        result['compile_seconds'] = compile_s
    print(f"Swin-{args.size.upper()} backbone, {args.batch_size}x3x"
          f"{args.img_size}x{args.img_size}, {args.threads} thread(s), "
          f"{args.rounds} rounds x {args.steps} steps")
    for mode in ('eager', 'compiled'):
        if mode not in result:
            continue
        print(f'\n{mode}\n| variant | s/step (spread) | / frozen forward |'
              '\n|---|---:|---:|')
        for name, row in result[mode].items():
            print(f"| {name} | {row['seconds']:.3f} ({row['spread']:.0%}) "
                  f"| {row['vs_frozen_forward']:.2f} |")
    write(result, args.out)


def write(result, out):
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'\nwrote {out}')


if __name__ == '__main__':
    main()
