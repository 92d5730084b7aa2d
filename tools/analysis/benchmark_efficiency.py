"""Training memory and time, and inference cost, of tuning methods.

    python tools/analysis/benchmark_efficiency.py CONFIG [CONFIG ...]
        [--methods E3VA LoRA Full+cp+amp E3VA+bf16 ...] [--device cpu|cuda]
        [--amp] [--batch-size 2] [--img-size 384 | --img-size H W]
        [--warmup 1] [--iters 3] [--rounds 1] [--infer-size H W]
        [--infer-iters 2] [--update-weights] [--memory-limit-gb 11]
        [--out work_dirs/benchmark/efficiency.json]

A method is a registered tuning method with optional suffixes: ``+cp``
(gradient checkpointing, upstream Swin's ``with_cp=True``), ``+amp`` (mixed
precision for this row even without ``--amp``: bf16 autocast on CPU, fp16
on CUDA), ``+bf16`` / ``+fp16`` (E3VA's ``frozen_dtype``), ``+tap-bf16`` /
``+tap-fp16`` / ``+tap-int8`` (E3VA's ``tap_dtype``). Each (config,
method) runs in its own process: ``--warmup`` + ``--iters`` real training
steps (``model.train_step``) on a fixed random batch, every step seeded by
its index and, unless ``--update-weights``, with learning rate 0 (the
optimizer still runs), and the neck and heads are re-initialised from one
seed after building (a method's own modules draw random numbers first), so
all steps of all methods do the same work in the heads. Then one more step
is profiled for memory: the peak of live tensor memory (CUDA
``max_memory_allocated`` on GPU; on CPU the tensors alive at the step's
start plus torch.profiler's allocation events), split at the peak by
torch's memory timeline into parameters, optimizer state,
gradients, activations, temporaries and the rest. ``backbone s/iter`` times
the backbone's forward + backward alone. With ``--rounds R`` the methods
run R times, interleaved; times are medians over all timed steps, and
``spread`` is (max - min) / median of a method's steps. Then inference:
``model.test_step`` on one image of ``--infer-size`` (default: the training
size), images/s and peak memory; LoRA also merged.

On CPU, mixed precision is bf16 autocast (mmcv's CPU NMS and RoIAlign
have no bf16 kernels: detectors train with AMP on GPU only), and rows
computing in half precision run their half matmuls and convolutions in
fp32 (``HalfMatmulsInFP32``: the tensors that outlive an op are the half
ones, at fp32 speed on CPUs without bf16 units): their memory is the half-
precision run's, their times are not.

Per config, full fine-tuning and the frozen backbone are always measured
as the references: figures are also given as ratios to full fine-tuning,
and memory and time as a saving efficiency ``(full - method) / (full -
frozen)``. Prints markdown tables; writes the JSON to ``--out`` and the
stacked-bar PNG of the memory breakdown next to it (``*_memory.png``).
Every measurement is also saved at once, with its run's settings, to
``--out`` + ``.partial``: run again, and every measurement whose settings
match (config, method, sizes, steps, device, precision) is reused, so an
interrupted benchmark resumes there, also with other ``--methods`` or
``--rounds``.
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

# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from tools.benchmark import (build_model, load_config, measure_inference,
                             measure_training, random_batch, tuning_name)
from tools.benchmark import model_configs
from tools.benchmark.memory_plot import plot_memory_breakdown
from tools.benchmark.model_configs import (parse_method,
                                           reset_outside_backbone)
from mmdet_e3va.utils import int_at_least

MB = 2**20
REFERENCES = ('Full', 'Frozen')


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--methods', nargs='+',
                        help='tuning methods (with +cp/+amp/+bf16/+fp16/'
                        '+tap-bf16/+tap-fp16/+tap-int8) to '
                        'swap into each config (default: each config as it '
                        'is)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision for every method')
    parser.add_argument('--batch-size', type=int_at_least(1), default=2)
    parser.add_argument('--img-size', type=int, nargs='+', default=[384],
                        help='S (square) or H W')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--iters', type=int, default=3,
                        help='timed steps (0: memory only, the warm-up on '
                        '128x128 images)')
    parser.add_argument('--rounds', type=int_at_least(1), default=1)
    parser.add_argument('--infer-size', type=int, nargs='+',
                        help='S or H W of the inference image (default: '
                        '--img-size)')
    parser.add_argument('--infer-iters', type=int, default=2,
                        help='timed inference runs (0: no inference)')
    parser.add_argument('--update-weights', action='store_true',
                        help='train with the config\'s learning rate')
    parser.add_argument('--memory-limit-gb', type=float,
                        help='draw this memory (GiB) on the plot')
    parser.add_argument('--out', default='work_dirs/benchmark/efficiency.json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in ('img_size', 'infer_size'):
        value = getattr(args, name)
        if value is not None and len(value) not in (1, 2):
            parser.error(f'--{name.replace("_", "-")} takes S or H W')
    return args


def method_config(spec):
    """:func:`tools.benchmark.model_configs.method_config` of ``spec``'s
    (config, method); AMP also when ``spec['amp']``."""
    try:
        cfg, amp, frozen_half = model_configs.method_config(
            spec['config'], spec['method'], spec['cfg_options'])
    except ValueError as err:
        raise SystemExit(f'--methods {err}') from None
    return cfg, amp or spec['amp'], frozen_half


def size(values):
    return values[0] if len(values) == 1 else tuple(values)


def run_worker(spec):
    """Measure one (config, method) and print the result as JSON."""
    load_average = os.getloadavg()
    torch.manual_seed(0)
    cfg, amp, frozen_half = method_config(spec)
    model = build_model(cfg)
    reset_outside_backbone(model)
    batch = random_batch(cfg, spec['batch_size'], size(spec['img_size']))
    # Memory only (--iters 0): warm up (create the optimizer state) cheaply.
    warmup_batch = (random_batch(cfg, spec['batch_size'], 128)
                    if spec['iters'] == 0 else None)
    result = measure_training(model, cfg, batch, spec['warmup'],
                              spec['iters'], spec['device'], amp,
                              spec['update_weights'], warmup_batch,
                              amp or frozen_half)
    result.update(amp=amp, load_average_at_start=load_average)
    if spec['infer_iters']:
        result['inference'] = measure_inference(
            model, random_batch(cfg, 1, size(spec['infer_size']), seed=1),
            spec['infer_iters'], spec['device'], amp, amp or frozen_half)
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


def spread(times):
    return (max(times) - min(times)) / statistics.median(times)


def add_ratios(rows):
    for row in rows:
        ref = {r['method']: r for r in rows if r['config'] == row['config']}
        full, frozen = ref['Full'], ref['Frozen']
        row['training_memory_bytes_vs_full'] = (
            row['training_memory_bytes'] / full['training_memory_bytes'])
        row['memory_saving_efficiency'] = saving(
            full['training_memory_bytes'], frozen['training_memory_bytes'],
            row['training_memory_bytes'])
        if row['seconds_per_iter'] is None:  # --iters 0: memory only
            continue
        row['seconds_per_iter_vs_full'] = (row['seconds_per_iter'] /
                                           full['seconds_per_iter'])
        row['time_saving_efficiency'] = saving(
            full['seconds_per_iter'], frozen['seconds_per_iter'],
            row['seconds_per_iter'])
        for prefix in ('', 'backbone_'):
            key = f'{prefix}seconds_per_iter'
            row[f'{prefix}time_vs_frozen'] = row[key] / frozen[key]
            # One ratio per round (medians of that round's steps): their
            # range shows whether the difference is above the noise.
            row[f'{prefix}time_vs_frozen_per_round'] = [
                statistics.median(a) / statistics.median(b) for a, b in zip(
                    row[f'{prefix}step_times_per_round'],
                    frozen[f'{prefix}step_times_per_round'])
            ]


def fmt(value, spec='.2f'):
    return '-' if value is None else format(value, spec)


def round_range(values):
    return f'{min(values):.2f}-{max(values):.2f}'


def training_table(rows):
    lines = [
        '| config | method | trainable | peak train mem MB | mem / full | '
        'mem saving eff. | s/iter (spread) | time / frozen (per round) | '
        'time saving eff. | backbone s/iter (spread) | backbone / frozen '
        '(per round) |', '|' + '---|' * 11
    ]
    for r in rows:
        memory = (f'| {r["config_name"]} | {r["method"]} | '
                  f'{r["trainable_params"] / 1e6:.2f} M | '
                  f'{r["training_memory_bytes"] / MB:.0f} | '
                  f'{fmt(r["training_memory_bytes_vs_full"])} | '
                  f'{fmt(r["memory_saving_efficiency"])} | ')
        if r['seconds_per_iter'] is None:
            lines.append(memory + '- | ' * 5)
            continue
        lines.append(
            memory +
            f'{r["seconds_per_iter"]:.2f} ({r["step_time_spread"]:.0%}) | '
            f'{r["time_vs_frozen"]:.3f} '
            f'({round_range(r["time_vs_frozen_per_round"])}) | '
            f'{fmt(r["time_saving_efficiency"])} | '
            f'{r["backbone_seconds_per_iter"]:.3f} '
            f'({r["backbone_step_time_spread"]:.0%}) | '
            f'{r["backbone_time_vs_frozen"]:.3f} '
            f'({round_range(r["backbone_time_vs_frozen_per_round"])}) |')
    return '\n'.join(lines)


def breakdown_table(rows):
    keys = ('parameters', 'optimizer_state', 'gradients', 'activations',
            'temporaries')
    lines = [
        '| config | method | peak MB | ' + ' | '.join(keys) +
        ' | other | peak RSS MB |', '|' + '---|' * (len(keys) + 5)
    ]
    for r in rows:
        b = r['memory_breakdown']
        other = sum(v for k, v in b.items() if k not in keys)
        cells = ' | '.join(f'{b[k] / MB:.0f}' for k in keys)
        lines.append(
            f'| {r["config_name"]} | {r["method"]} | '
            f'{r["training_memory_bytes"] / MB:.0f} | {cells} | '
            f'{other / MB:.0f} | {r["peak_rss_bytes"] / MB:.0f} |')
    return '\n'.join(lines)


def inference_table(rows):
    lines = [
        '| config | method | images/s | peak inference mem MB |',
        '|---|---|---|---|'
    ]
    for r in rows:
        inference = r.get('inference')
        if not inference:
            continue
        variants = [(r['method'], inference)]
        if 'merged' in inference:
            variants.append((f'{r["method"]} (merged)', inference['merged']))
        for name, v in variants:
            lines.append(f'| {r["config_name"]} | {name} | '
                         f'{v["images_per_s"]:.3f} | '
                         f'{v["peak_memory_bytes"] / MB:.0f} |')
    return '\n'.join(lines)


def collect(spec, measured):
    """One result row from a (config, method)'s rounds."""
    row = dict(measured[0], config=spec['config'], method=spec['method'],
               config_name=osp.splitext(osp.basename(spec['config']))[0])
    for prefix in ('', 'backbone_'):
        per_round = [m[f'{prefix}step_times'] for m in measured]
        times = [t for r in per_round for t in r]
        row[f'{prefix}step_times_per_round'] = per_round
        row[f'{prefix}step_times'] = times
        row[f'{prefix}seconds_per_iter'] = (statistics.median(times)
                                            if times else None)
        row[f'{prefix}step_time_spread'] = spread(times) if times else None
    # The highest peak of the rounds, with its own breakdown.
    peak = max(measured, key=lambda m: m['training_memory_bytes'])
    row.update(training_memory_bytes=peak['training_memory_bytes'],
               memory_breakdown=peak['memory_breakdown'],
               peak_rss_bytes=max(m['peak_rss_bytes'] for m in measured))
    return row


def main():
    args = parse_args()
    if args.worker:
        return run_worker(json.loads(args.worker))
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch sees no CUDA device')
    load_average = os.getloadavg()
    runs = []
    for config in args.configs:
        base = tuning_name(load_config(config, args.cfg_options))
        # The references last (full fine-tuning is the slowest): what a
        # resumed run needs most is measured first.
        for method in dict.fromkeys((args.methods or [base]) +
                                    ['Frozen', 'Full']):
            try:
                parse_method(method)
            except ValueError as err:
                raise SystemExit(f'--methods {err}') from None
            runs.append(dict(config=config, method=method,
                             cfg_options=args.cfg_options,
                             batch_size=args.batch_size,
                             img_size=args.img_size, warmup=args.warmup,
                             iters=args.iters, device=args.device,
                             amp=args.amp, update_weights=args.update_weights,
                             infer_size=args.infer_size or args.img_size,
                             infer_iters=args.infer_iters))
    partial_path = args.out + '.partial'
    settings = {k: v for k, v in vars(args).items() if k != 'worker'}
    done = {}
    if osp.exists(partial_path):
        with open(partial_path) as f:
            done = json.load(f)['measurements']
        print(f'{partial_path}: {len(done)} earlier measurements, reused '
              'where their run settings match', file=sys.stderr)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    results = [[] for _ in runs]
    for round_index in range(args.rounds):
        for spec, measured in zip(runs, results):
            key = f'{round_index}|{spec["config"]}|{spec["method"]}'
            # Inference once, in the first round.
            run = dict(spec, infer_iters=spec['infer_iters']
                       if round_index == 0 else 0)
            reused = done.get(key, {}).get('run') == run
            print(f'round {round_index + 1}/{args.rounds}: '
                  f'{osp.basename(spec["config"])} with {spec["method"]}'
                  f'{" (recorded)" if reused else ""}', file=sys.stderr,
                  flush=True)
            if not reused:
                done[key] = dict(measure(run), run=run)
                with open(partial_path, 'w') as f:
                    json.dump(dict(settings=settings, measurements=done), f)
            measured.append(done[key])
    rows = [collect(spec, measured) for spec, measured in zip(runs, results)]
    rows.sort(key=lambda r: (args.configs.index(r['config']),
                             r['method'] not in REFERENCES,
                             REFERENCES.index(r['method'])
                             if r['method'] in REFERENCES else 0))
    add_ratios(rows)
    print(training_table(rows), breakdown_table(rows), inference_table(rows),
          sep='\n\n')
    machine = dict(platform=platform.platform(), cpu_count=os.cpu_count(),
                   torch=torch.__version__, device=args.device,
                   cuda_device=(torch.cuda.get_device_name()
                                if args.device == 'cuda' else None),
                   load_average_at_start=load_average)
    with open(args.out, 'w') as f:
        json.dump(dict(command=' '.join(sys.argv), settings=settings,
                       machine=machine, results=rows), f, indent=2)
    os.remove(partial_path)
    png = osp.splitext(args.out)[0] + '_memory.png'
    plot_memory_breakdown(rows, png, args.memory_limit_gb and
                          args.memory_limit_gb * 2**30)
    print(f'\nJSON written to {args.out}\nplot written to {png}')


if __name__ == '__main__':
    main()
