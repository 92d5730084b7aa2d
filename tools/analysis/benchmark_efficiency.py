"""Training memory, time and parameters of tuning methods, side by side.

    python tools/analysis/benchmark_efficiency.py CONFIG [CONFIG ...]
        [--methods E3VA LoRA ...] [--device cpu|cuda] [--amp]
        [--batch-size 2] [--img-size 384] [--warmup 1] [--iters 3]
        [--rounds 1] [--out work_dirs/benchmark/efficiency.json]

Each (config, method) runs in its own process: ``--warmup`` + ``--iters``
real training steps (``model.train_step``) on a fixed random batch. With
``--rounds R`` every method runs R times, interleaved (all methods, then all
again, ...), so slow drift of the machine's speed hits every method alike;
the reported time is the median over all timed steps. Per
config, full fine-tuning and the frozen backbone are always measured too,
in the same run, as the references: every figure is also given as a ratio
to full fine-tuning, and memory and time as a saving efficiency
``(full - method) / (full - frozen)`` (1.0 = as cheap as the frozen
backbone). Training memory is CUDA ``max_memory_allocated`` on GPU; on CPU
the bytes saved for backward plus parameter, gradient and optimizer-state
bytes. ``backbone s/iter`` times the backbone's forward + backward alone:
the part a tuning method changes, without the heads' data-dependent cost.
Prints a markdown table and writes the JSON to ``--out``.
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys

import torch
from mmengine.config import DictAction

from mmdet_e3va.analysis import (build_model, load_config, measure_training,
                                 random_batch, tuning_name)

MB = 2**20


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--methods', nargs='+',
                        help='tuning methods to swap into each config '
                        '(default: each config as it is)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--img-size', type=int, default=384)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--out', default='work_dirs/benchmark/efficiency.json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args()


def run_worker(spec):
    """Measure one (config, method) and print the result as JSON."""
    torch.manual_seed(0)
    cfg = load_config(spec['config'], spec['cfg_options'], spec['method'])
    model = build_model(cfg)
    batch = random_batch(cfg, spec['batch_size'], spec['img_size'])
    result = measure_training(model, cfg, batch, spec['warmup'],
                              spec['iters'], spec['device'], spec['amp'])
    print('RESULT ' + json.dumps(result))


def measure(spec):
    proc = subprocess.run(
        [sys.executable, __file__, spec['config'], '--worker',
         json.dumps(spec)], capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith('RESULT ')]
    if proc.returncode or not lines:
        raise RuntimeError(f'benchmark of {spec["config"]} with '
                           f'{spec["method"]} failed:\n{proc.stderr[-4000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def saving(full, frozen, value):
    return (full - value) / (full - frozen) if full != frozen else None


def add_ratios(rows):
    for row in rows:
        ref = {r['method']: r for r in rows if r['config'] == row['config']}
        full, frozen = ref['Full'], ref['Frozen']
        for key in ('training_memory_bytes', 'seconds_per_iter',
                    'peak_rss_bytes'):
            row[f'{key}_vs_full'] = row[key] / full[key]
        row['memory_saving_efficiency'] = saving(
            full['training_memory_bytes'], frozen['training_memory_bytes'],
            row['training_memory_bytes'])
        row['time_saving_efficiency'] = saving(
            full['seconds_per_iter'], frozen['seconds_per_iter'],
            row['seconds_per_iter'])
        row['time_vs_frozen'] = (row['seconds_per_iter'] /
                                 frozen['seconds_per_iter'])
        row['backbone_time_vs_frozen'] = (
            row['backbone_seconds_per_iter'] /
            frozen['backbone_seconds_per_iter'])


def fmt(value, spec='.2f'):
    return '-' if value is None else format(value, spec)


def table(rows):
    lines = [
        '| config | method | trainable | total | train mem MB | mem / full '
        '| mem saving eff. | peak RSS MB | s/iter | time / full | '
        'time / frozen | time saving eff. | backbone s/iter | '
        'backbone / frozen |', '|' + '---|' * 14
    ]
    for r in rows:
        lines.append(
            f'| {r["config_name"]} | {r["method"]} | '
            f'{r["trainable_params"] / 1e6:.2f} M | '
            f'{r["total_params"] / 1e6:.2f} M | '
            f'{r["training_memory_bytes"] / MB:.0f} | '
            f'{fmt(r["training_memory_bytes_vs_full"])} | '
            f'{fmt(r["memory_saving_efficiency"])} | '
            f'{r["peak_rss_bytes"] / MB:.0f} | '
            f'{r["seconds_per_iter"]:.2f} | '
            f'{fmt(r["seconds_per_iter_vs_full"])} | '
            f'{fmt(r["time_vs_frozen"])} | '
            f'{fmt(r["time_saving_efficiency"])} | '
            f'{r["backbone_seconds_per_iter"]:.3f} | '
            f'{fmt(r["backbone_time_vs_frozen"])} |')
    return '\n'.join(lines)


def main():
    args = parse_args()
    if args.worker:
        return run_worker(json.loads(args.worker))
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch sees no CUDA device')
    runs = []
    for config in args.configs:
        base = tuning_name(load_config(config, args.cfg_options))
        for method in dict.fromkeys(['Full', 'Frozen'] +
                                    (args.methods or [base])):
            runs.append(dict(config=config, method=method,
                             cfg_options=args.cfg_options,
                             batch_size=args.batch_size,
                             img_size=args.img_size, warmup=args.warmup,
                             iters=args.iters, device=args.device,
                             amp=args.amp))
    results = [[] for _ in runs]
    for round_index in range(args.rounds):
        for spec, measured in zip(runs, results):
            print(f'round {round_index + 1}/{args.rounds}: '
                  f'{osp.basename(spec["config"])} with {spec["method"]}',
                  file=sys.stderr, flush=True)
            measured.append(measure(spec))
    rows = []
    for spec, measured in zip(runs, results):
        row = dict(measured[0], config=spec['config'], method=spec['method'],
                   config_name=osp.splitext(osp.basename(spec['config']))[0])
        row['step_times'] = [t for m in measured for t in m['step_times']]
        row['seconds_per_iter'] = statistics.median(row['step_times'])
        row['backbone_seconds_per_iter'] = statistics.median(
            m['backbone_seconds_per_iter'] for m in measured)
        for key in ('training_memory_bytes', 'saved_for_backward_bytes',
                    'peak_rss_bytes'):
            row[key] = max(m[key] for m in measured)
        rows.append(row)
    add_ratios(rows)
    print(table(rows))
    machine = dict(platform=platform.platform(), cpu_count=os.cpu_count(),
                   torch=torch.__version__, device=args.device,
                   cuda_device=(torch.cuda.get_device_name()
                                if args.device == 'cuda' else None))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(settings={k: v for k, v in vars(args).items()
                                 if k != 'worker'},
                       machine=machine, results=rows), f, indent=2)
    print(f'\nJSON written to {args.out}')


if __name__ == '__main__':
    main()
