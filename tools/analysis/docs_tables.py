"""Rewrite the generated blocks of README.md and docs/*.md from the tools'
own outputs, so that no figure in a table is copied by hand.

A generated block sits between two HTML comments, which Markdown does not
render::

    <!-- generated:NAME -->
    ...
    <!-- /generated:NAME -->

Sources: ``docs/benchmarks/*.json`` (``tools/analysis/benchmark_efficiency.py``),
``docs/study/summary.json`` and ``results.json`` (``tools/analysis/mini_study.py``),
``docs/study/highway_share_det.json`` (``tools/analysis/highway_share.py``),
``docs/params/*.json`` (``tools/analysis/count_params.py --json``) and,
verbatim, the parts of ``docs/study/table.md`` and ``ablation.md`` that are
that tool's own text. The paper's numbers (``PAPER``) are the E3VA paper's
tables. The config table lists the files under ``configs/``.

Usage, from the repository root::

    python tools/analysis/docs_tables.py          # rewrite the blocks
    python tools/analysis/docs_tables.py --check  # exit 1 if a block is stale

Only the standard library is used, so the docs test runs it without
torch or OpenMMLab installed.
"""
import argparse
import json
import os.path as osp
import re
import sys
import textwrap
from glob import glob

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # for tools.*
from tools.study.e3va_tap_variants import E3VA_TAP_VARIANTS  # noqa: E402

MIB = 2**20
BENCH = 'docs/benchmarks'
STUDY = 'docs/study'
TARGETS = ('README.md', 'docs/benchmark.md', 'docs/study.md',
           'docs/tuning_methods.md')

# The E3VA paper's results (Yin et al., arXiv 2306.09729):
# COCO Cascade Mask R-CNN Swin-B box / mask AP and training memory per GPU
# (MB); ADE20K UperNet Swin-L mIoU; VOC RetinaNet Swin-L AP and memory.
PAPER = {
    'coco': {
        'Full': (51.9, 45.0, 17061), 'Frozen': (43.5, 38.6, 7137),
        'BitFit': (47.9, 41.9, 13657), 'LNTune': (48.0, 41.4, 12831),
        'Partial-1': (49.2, 42.8, 7301), 'Adapter': (50.9, 43.8, 12557),
        'LoRA': (51.2, 44.3, 11975), 'AdaptFormer': (51.4, 44.5, 13186),
        'LoRand': (51.0, 43.9, 13598), 'E3VA': (50.5, 43.8, 7639),
    },
    'ade20k': {
        'Full': 52.10, 'Frozen': 46.84, 'BitFit': 48.37, 'LNTune': 47.98,
        'Partial-1': 47.44, 'Adapter': 50.78, 'LoRA': 50.34,
        'AdaptFormer': 50.83, 'LoRand': 50.76, 'E3VA': 49.64,
    },
    'voc': {
        'Full': (83.5, 15679), 'Frozen': (83.6, 3967),
        'BitFit': (85.7, 10861), 'LNTune': (85.8, 10123),
        'Partial-1': (85.4, 3943), 'Adapter': (87.1, 10793),
        'LoRA': (87.5, 10127), 'AdaptFormer': (87.3, 11036),
        'LoRand': (86.8, 11572), 'E3VA': (86.5, 4819),
    },
}

# Display names of the study's method keys.
NAMES = {'LNTune': 'LN-tune'}
TASK_METRICS = (('det', 'det AP', 'det box AP'), ('det', 'mask AP',
                                                   'det mask AP'),
                ('seg', 'mIoU', 'seg mIoU'), ('voc', 'VOC AP', 'voc VOC AP'))


def name(method):
    return NAMES.get(method, method)


def load_json(path):
    with open(osp.join(ROOT, path)) as f:
        return json.load(f)


def rows_of(path):
    """``method -> result row`` of a benchmark JSON, in the file's order."""
    return {r['method']: r for r in load_json(path)['results']}


def mib(nbytes):
    return f'{nbytes / MIB:.0f}'


def params(n):
    return f'{n / 1e6:.2f} M'


def study_params(n, share):
    if n == 0:
        return '0'
    size = f'{n / 1e3:.1f} K' if n < 1e5 else f'{n / 1e6:.2f} M'
    return f'{size} ({share:.2%})'


def table(header, rows, align=None):
    align = align or ['---'] + ['---:'] * (len(header) - 1)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


# ---------------------------------------------------------------- benchmark
BENCH_RUNS = {
    # block name: (JSON, columns, methods in display order or None)
    'bench-cpu-swin-t': ('cpu_cascade-mask-rcnn_swin-t_384_peak.json',
                         ('train', 'time', 'infer', 'split'), None),
    'bench-cpu-upernet-amp': ('cpu_upernet_swin-t_512_amp.json',
                              ('train', 'split'), None),
    'bench-cpu-swin-b-dtype': (
        'cpu_cascade-mask-rcnn_swin-b_512_frozen_dtype.json',
        ('train', 'split'), None),
    'bench-cpu-swin-t-dtype': (
        'cpu_cascade-mask-rcnn_swin-t_384_frozen_dtype.json',
        ('train', 'split'), None),
    'bench-cpu-swin-l-11gb': ('cpu_cascade-mask-rcnn_swin-l_800x1333.json',
                              ('train', 'split'), None),
    'bench-cpu-swin-l-tap-dtype': (
        'cpu_cascade-mask-rcnn_swin-l_800x1333_tap_dtype.json',
        ('train', 'split'), None),
    'bench-cuda-swin-t': ('cuda_cascade-mask-rcnn_swin-t_384.json',
                          ('train', 'time', 'split'),
                          ('Full', 'Frozen', 'E3VA', 'E3VA+fp16', 'E3VAPlus',
                           'AdaptFormer', 'Adapter', 'LoRA', 'LoRand', 'Mona',
                           'Full+cp')),
}


def bench_command(path):
    """The command recorded in the JSON, with ``--out`` set to the JSON's
    own path (a run may have written to a scratch file first), wrapped."""
    data = load_json(path)
    words = data['command'].split()
    if '--out' in words:
        words[words.index('--out') + 1] = path
    lines, line = [], 'python'
    for word in words:
        if word.startswith('--') and len(line) > 70:
            lines.append(line + ' \\')
            line = '    ' + word
        else:
            line += ' ' + word
    lines.append(line)
    return '```bash\n' + '\n'.join(lines) + '\n```'


def bench_table(path, columns, methods=None):
    rows = rows_of(path)
    order = methods or list(rows)
    header = ['method', 'trainable (all)', 'peak train MiB', '/ Full',
              'mem saving eff.']
    if 'time' in columns:
        header += ['s/step (spread)', 'backbone s/step (spread)',
                   'backbone / Frozen']
    if 'infer' in columns:
        header += ['inference img/s', 'inference peak MiB']
    wide = 'time' in columns or 'infer' in columns
    split_header = ['parameters', 'optimizer state', 'gradients',
                    'activations', 'other', 'peak minus parts']
    if 'split' in columns and not wide:
        header += split_header
    body, split_body = [], []
    for m in order:
        r = rows[m]
        cells = [m, params(r['trainable_params']),
                 mib(r['training_memory_bytes']),
                 f'{r["training_memory_bytes_vs_full"]:.2f}',
                 f'{r["memory_saving_efficiency"]:.2f}']
        if 'time' in columns:
            digits = 3 if r['seconds_per_iter'] < 1 else 1
            bdigits = 3 if r['backbone_seconds_per_iter'] < 1 else 2
            cells += [
                f'{r["seconds_per_iter"]:.{digits}f} '
                f'({r["step_time_spread"]:.0%})',
                f'{r["backbone_seconds_per_iter"]:.{bdigits}f} '
                f'({r["backbone_step_time_spread"]:.0%})',
                f'{r["backbone_time_vs_frozen"]:.2f}']
        if 'infer' in columns:
            inf = r['inference']
            speed, peak = f'{inf["images_per_s"]:.3f}', mib(
                inf['peak_memory_bytes'])
            if 'merged' in inf:
                speed += f' (merged {inf["merged"]["images_per_s"]:.3f})'
                peak += f' (merged {mib(inf["merged"]["peak_memory_bytes"])})'
            cells += [speed, peak]
        if 'split' in columns:
            b = r['memory_breakdown']
            main = ('parameters', 'optimizer_state', 'gradients',
                    'activations')
            other = sum(v for k, v in b.items() if k not in main)
            split = [mib(b[k]) for k in main] + [
                mib(other), mib(r['training_memory_bytes'] - sum(b.values()))]
            if wide:
                split_body.append([m, mib(r['training_memory_bytes'])] +
                                  split)
            else:
                cells += split
        body.append(cells)
    out = table(header, body)
    if split_body:
        out += ('\n\nThe peak split at its moment (MiB):\n\n' +
                table(['method', 'peak'] + split_header, split_body))
    return out


def bench_block(block):
    file, columns, methods = BENCH_RUNS[block]
    path = f'{BENCH}/{file}'
    data = load_json(path)
    machine = data['machine']
    device = (machine['cuda_device'] if machine['device'] == 'cuda' else
              f'CPU, {machine["cpu_count"]} cores')
    settings = data['settings']
    size = 'x'.join(str(s) for s in settings['img_size'])
    steps = (f'{settings["warmup"]} warm-up + {settings["iters"]} timed '
             f'steps' if settings['iters'] else
             f'{settings["warmup"]} warm-up step, memory only')
    head = (f'Device: {device}; torch {machine["torch"]}; batch '
            f'{settings["batch_size"]}, {size} px; {steps}. '
            f'JSON: [`{file}`](benchmarks/{file}).')
    return '\n\n'.join([bench_command(path), head,
                        bench_table(path, columns, methods)])


def readme_efficiency():
    path = f'{BENCH}/cuda_cascade-mask-rcnn_swin-t_384.json'
    rows = rows_of(path)
    header = ['method', 'trainable params', 'peak train memory, MiB (/ Full)',
              'memory saving eff.', 's/step', 'backbone fwd+bwd s']
    body = []
    for m in ('Full', 'Full+cp', 'Frozen', 'E3VA', 'E3VA+fp16', 'LoRA',
              'AdaptFormer', 'Mona'):
        r = rows[m]
        body.append([
            f'**{m}**' if m == 'E3VA' else m, params(r['trainable_params']),
            f'{mib(r["training_memory_bytes"])} '
            f'({r["training_memory_bytes_vs_full"]:.2f})',
            f'{r["memory_saving_efficiency"]:.2f}',
            f'{r["seconds_per_iter"]:.3f}',
            f'{r["backbone_seconds_per_iter"]:.3f}'])
    return table(header, body)


# -------------------------------------------------------------------- study
def study():
    return load_json(f'{STUDY}/summary.json')


def metric_cell(entry, metric, bold=False):
    if entry is None or metric not in entry['metrics']:
        return '-'
    m = entry['metrics'][metric]
    text = (f'{m["mean"]:.1f} ± {m["std"]:.1f}' if m['n'] > 1 else
            f'{m["mean"]:.1f}')
    text = f'**{text}**' if bold else text
    return f'{text} ({m["n"]})'


def methods_in_order(summary):
    order = []
    for task in ('det', 'seg', 'voc'):
        for m in summary['summary'][task]:
            if m not in order:
                order.append(m)
    # Paper methods first (the tool's order), then E3VA+ variants, then
    # diagnostics.
    def rank(m):
        return 2 if m == 'Full-frozen-stem' else int(m.startswith('E3VAPlus-'))
    return sorted(order, key=rank)


def lr_label(sweep):
    if sweep is None:
        return '-'
    cands = [c['lr_mults'] for c in sweep['candidates']]
    varying = [k for k in ('swin_lr_mult', 'tuning_lr_mult')
               if len({c.get(k) for c in cands}) > 1]
    if not varying:
        return 'heads only'
    key = varying[0]
    part = 'Swin' if key == 'swin_lr_mult' else 'adapters'
    label = f'{part} x{sweep["selected"][key]:g}'
    return label + (' (grid end)' if sweep.get('at_grid_end') else '')


def paper_gap(bench, method):
    """The method's share of the Full - Frozen gap in the paper (box AP on
    COCO, mIoU on ADE20K)."""
    first = (lambda v: v[0]) if bench == 'coco' else (lambda v: v)
    table_ = {m: first(v) for m, v in PAPER[bench].items()}
    return ((table_[method] - table_['Frozen']) /
            (table_['Full'] - table_['Frozen']))


def share_of_gap(summ, task, metric, method):
    s = summ['summary'][task]
    full = s['Full']['metrics'][metric]['mean']
    frozen = s['Frozen']['metrics'][metric]['mean']
    return (s[method]['metrics'][metric]['mean'] - frozen) / (full - frozen)


def study_table():
    summ = study()
    header = ['method', 'backbone trainable'] + [
        label for _, _, label in TASK_METRICS] + ['lr: det / seg / voc']
    body = []
    for m in methods_in_order(summ):
        entries = {t: summ['summary'][t].get(m) for t in ('det', 'seg',
                                                          'voc')}
        first = next(e for e in entries.values() if e)
        cells = [name(m), study_params(first['backbone_trainable'],
                                       first['backbone_share'])]
        for task, metric, _ in TASK_METRICS:
            cells.append(metric_cell(entries[task], metric))
        cells.append(' / '.join(
            lr_label(summ['lr_sweep'][t].get(m)) if entries[t] else '-'
            for t in ('det', 'seg', 'voc')))
        body.append(cells)
    return table(header, body, ['---'] + ['---:'] * 5 + ['---'])


def study_seeds():
    summ = study()
    header = ['method'] + [label for _, _, label in TASK_METRICS]
    body = []
    for m in methods_in_order(summ):
        cells, multi = [name(m)], False
        for task, metric, _ in TASK_METRICS:
            e = summ['summary'][task].get(m)
            if e and metric in e['metrics']:
                values = e['metrics'][metric]['values']
                multi |= len(values) > 1
                cells.append(', '.join(f'{v:.1f}' for v in values))
            else:
                cells.append('-')
        if multi:
            body.append(cells)
    return table(header, body)


def study_memory():
    summ = study()
    header = ['method', 'det MB (/ Full)', 'seg MB (/ Full)',
              'voc MB (/ Full)']
    body = []
    for m in methods_in_order(summ):
        cells = [name(m)]
        for task in ('det', 'seg', 'voc'):
            e = summ['summary'][task].get(m)
            cells.append(f'{e["memory_mb"]:.0f} ({e["memory_mb_vs_full"]:.2f})'
                         if e else '-')
        body.append(cells)
    return table(header, body)


def study_paper():
    """The study's numbers beside the paper's, and each method's share of
    the Full-Frozen gap in both."""
    summ = study()
    coco, ade, voc = PAPER['coco'], PAPER['ade20k'], PAPER['voc']
    header = ['method', 'det box AP', 'paper: COCO box AP', 'seg mIoU',
              'paper: ADE20K mIoU', 'voc VOC AP',
              'paper: VOC AP (no gap: Frozen is level with Full)']

    def gap(value, full, frozen):
        return f'{(value - frozen) / (full - frozen):.0%}'

    body = []
    for m in methods_in_order(summ):
        if m not in coco:
            continue
        cells = [name(m)]
        for task, metric, paper, pvalue in (
                ('det', 'det AP', coco, lambda v: v[0]),
                ('seg', 'mIoU', ade, lambda v: v),
                ('voc', 'VOC AP', voc, lambda v: v[0])):
            e = summ['summary'][task][m]['metrics'][metric]
            p = pvalue(paper[m])
            digits = 2 if paper is ade else 1
            if m in ('Full', 'Frozen'):
                cells += [f'{e["mean"]:.1f}', f'{p:.{digits}f}']
                continue
            share = f'{share_of_gap(summ, task, metric, m):.0%}'
            pfull, pfrozen = pvalue(paper['Full']), pvalue(paper['Frozen'])
            pshare = (f' ({gap(p, pfull, pfrozen)})' if pfull > pfrozen else
                      '')
            cells += [f'{e["mean"]:.1f} ({share})',
                      f'{p:.{digits}f}{pshare}']
        body.append(cells)
    return table(header, body)


def readme_accuracy():
    summ = study()
    header = ['method', 'det box AP', 'seg mIoU', 'voc VOC AP',
              'training memory / Full (det, seg, voc)']
    body = []
    for m in ('Full', 'Frozen', 'E3VA', 'E3VAPlus', 'LoRA', 'Adapter',
              'AdaptFormer', 'Mona'):
        cells = [f'**{m}**' if m == 'E3VA' else m]
        for task, metric in (('det', 'det AP'), ('seg', 'mIoU'),
                             ('voc', 'VOC AP')):
            cells.append(metric_cell(summ['summary'][task][m], metric))
        cells.append(', '.join(
            f'{summ["summary"][t][m]["memory_mb_vs_full"]:.2f}'
            for t in ('det', 'seg', 'voc')))
        body.append(cells)
    shares = [f'{share_of_gap(summ, t, k, "E3VA"):.0%}'
              for t, k in (('det', 'det AP'), ('seg', 'mIoU'),
                           ('voc', 'VOC AP'))]
    voc = PAPER['voc']
    body.append([
        'E3VA\'s share of the Full - Frozen gap',
        f'{shares[0]} (paper, COCO: {paper_gap("coco", "E3VA"):.0%})',
        f'{shares[1]} (paper, ADE20K: {paper_gap("ade20k", "E3VA"):.0%})',
        f'{shares[2]} (paper, VOC: E3VA {voc["E3VA"][0]:g} above Full '
        f'{voc["Full"][0]:g})', ''])
    return table(header, body)


def readme_highlights():
    cuda = rows_of(f'{BENCH}/cuda_cascade-mask-rcnn_swin-t_384.json')
    big = rows_of(f'{BENCH}/cpu_cascade-mask-rcnn_swin-l_800x1333.json')
    summ = study()
    s = summ['summary']
    e, f, z = cuda['E3VA'], cuda['Full'], cuda['Frozen']
    in_backbone = [cuda[m] for m in ('LoRA', 'Adapter', 'AdaptFormer',
                                     'LoRand', 'Mona')]
    eff = [r['memory_saving_efficiency'] for r in in_backbone]
    bb = [r['backbone_time_vs_frozen'] for r in in_backbone]
    step_lo = min(r['seconds_per_iter'] for r in cuda.values())
    step_hi = max(r['seconds_per_iter'] for r in cuda.values())
    spread_hi = max(r['step_time_spread'] for r in cuda.values())
    cpu = rows_of(f'{BENCH}/cpu_cascade-mask-rcnn_swin-t_384_peak.json')
    cpu_spread = max(r['backbone_step_time_spread'] for r in cpu.values())
    # A generous allowance for what a GPU adds (docs/benchmark.md).
    with_overheads = big['E3VA']['training_memory_bytes'] * 1.3 / MIB + 800
    gaps = {t: share_of_gap(summ, t, k, 'E3VA')
            for t, k in (('det', 'det AP'), ('seg', 'mIoU'),
                         ('voc', 'VOC AP'))}

    def mean(task, method, metric):
        return s[task][method]['metrics'][metric]['mean']

    gpu = load_json(f'{BENCH}/cuda_cascade-mask-rcnn_swin-t_384.json')[
        'machine']['cuda_device']
    lines = [
        f'- **Memory, on one GPU** ({gpu}; Swin-T Cascade '
        f'Mask R-CNN, 384x384, batch 2): E3VA peaks at '
        f'{mib(e["training_memory_bytes"])} MiB, full fine-tuning at '
        f'{mib(f["training_memory_bytes"])} and the frozen backbone at '
        f'{mib(z["training_memory_bytes"])}: E3VA keeps '
        f'{e["memory_saving_efficiency"]:.0%} of the saving that freezing '
        f'the whole backbone would give, the in-backbone adapters (LoRA, '
        f'Adapter, AdaptFormer, LoRand, Mona) {min(eff):.0%}-{max(eff):.0%}. '
        f'With `frozen_dtype=\'fp16\'` E3VA keeps '
        f'{cuda["E3VA+fp16"]["memory_saving_efficiency"]:.0%}.',
        f'- **Time, side by side:** the backbone\'s forward and backward '
        f'take {e["backbone_seconds_per_iter"]:.3f} s for E3VA, '
        f'{f["backbone_seconds_per_iter"]:.3f} s for full fine-tuning and '
        f'{z["backbone_seconds_per_iter"]:.3f} s frozen '
        f'({e["backbone_time_vs_frozen"]:.2f}x the frozen backbone, against '
        f'{min(bb):.2f}-{max(bb):.2f}x for the in-backbone adapters; '
        f'medians of 10 steps, which vary by up to '
        f'{max(r["backbone_step_time_spread"] for r in cuda.values()):.0%}). '
        f'On the CPU, where they vary by at most {cpu_spread:.0%}, E3VA\'s '
        f'backbone takes {cpu["E3VA"]["backbone_time_vs_frozen"]:.2f}x the '
        f'frozen one\'s time, LoRA\'s {cpu["LoRA"]["backbone_time_vs_frozen"]:.2f}x '  # noqa
        f'and full fine-tuning\'s {cpu["Full"]["backbone_time_vs_frozen"]:.2f}x. '  # noqa
        f'The whole step ({step_lo:.2f}-{step_hi:.2f} s on the GPU) is mostly '
        f'the detector\'s heads and varies by up to {spread_hi:.0%} from step '
        f'to step, so it does not rank the methods.',
        f'- **The 11 GB question: yes, for E3VA.** Swin-L Cascade Mask '
        f'R-CNN at 800x1333, one image: a training step in fp32 holds at '
        f'most {mib(big["E3VA"]["training_memory_bytes"])} MiB of live '
        f'tensors with E3VA ({mib(big["E3VA+bf16"]["training_memory_bytes"])} '
        f'with `frozen_dtype=\'bf16\'`) and '
        f'{big["Full"]["training_memory_bytes"] / MIB:,.0f} MiB with full '
        f'fine-tuning, more than an 11 GB card\'s 11,264 MiB before any '
        f'overhead. With generous allowances for the CUDA context, library '
        f'workspaces and the allocator (x1.3 + 800 MiB), E3VA needs about '
        f'{with_overheads / 1024:.1f} GiB. Measured on the CPU '
        f'([how](docs/benchmark.md#swin-l-at-800x1333-the-11-gb-question)).',
        f'- **Accuracy, at CPU scale only:** in a study with a small Swin on '
        f'synthetic scenes, E3VA recovers {gaps["det"]:.0%} (det), '
        f'{gaps["seg"]:.0%} (seg) and {gaps["voc"]:.0%} (voc) of the gap '
        f'between the frozen backbone and full fine-tuning (the paper: 83% on '
        f'COCO, 53% on ADE20K). The in-backbone adapters AdaptFormer and Mona '
        f'do better there: det box AP {mean("det", "AdaptFormer", "det AP"):.1f} '  # noqa
        f'and {mean("det", "Mona", "det AP"):.1f} against E3VA\'s '
        f'{mean("det", "E3VA", "det AP"):.1f} (Full '
        f'{mean("det", "Full", "det AP"):.1f}). This is not a reproduction '
        f'of the paper\'s COCO, ADE20K or VOC numbers.',
    ]
    return '\n'.join(textwrap.fill(line, 100, subsequent_indent='  ',
                                   break_long_words=False,
                                   break_on_hyphens=False)
                     for line in lines)


def study_highway():
    data = load_json(f'{STUDY}/highway_share_det.json')
    records = load_json(f'{STUDY}/results.json')['records']
    header = ['run (det, seed 0)', 'adapters lr', 'box AP',
              '\\|h\\| / \\|x\\|, stages 1-4']
    body = []
    for run, v in data.items():
        rec = records[run.rsplit('_', 1)[1]]
        mult = rec['settings'].get('tuning_lr_mult', 1.0)
        shares = ', '.join(f'{v["stages"][k]["share"]:.2f}'
                           for k in sorted(v['stages'], key=int))
        body.append([v['tuning'], f'x{mult:g}',
                     f'{rec["metrics"]["det AP"]:.1f}', shares])
    return table(header, body, ['---', '---:', '---:', '---'])


def study_selection():
    """The selection-split lines of table.md, verbatim."""
    with open(osp.join(ROOT, STUDY, 'table.md')) as f:
        text = f.read()
    lines = [ln for ln in text.splitlines() if re.match(r'- (seg|det|voc):',
                                                        ln)]
    if not lines:
        raise ValueError('table.md: no selection-split lines')
    return '\n'.join(lines)


def study_ablation():
    """ablation.md, the tool's own text, verbatim."""
    with open(osp.join(ROOT, STUDY, 'ablation.md')) as f:
        return f.read().strip()


BANK_RERUN = f'{STUDY}/adapter_bank_rerun/results.json'


def metrics_text(metrics):
    """``'mIoU 62.47'``: a record's metrics, two decimals."""
    return ', '.join(f'{k} {v:.2f}' for k, v in metrics.items())


def study_taps():
    """E3VA with low-precision taps against E3VA, per task and metric: the
    seeds, mean ± std, the difference of the means and whether the
    variant's mean lies within the range of E3VA's seeds; then E3VA's
    seed-0 seg run made again with the adapter bank against its record."""
    summ = study()['summary']
    body = []
    for task, metric, label in TASK_METRICS:
        e3va = summ[task].get('E3VA')
        for method in E3VA_TAP_VARIANTS:
            entry = summ[task].get(method)
            if not entry or metric not in entry['metrics']:
                continue
            ref = e3va['metrics'][metric]
            values = entry['metrics'][metric]['values']
            mean = entry['metrics'][metric]['mean']
            inside = min(ref['values']) <= mean <= max(ref['values'])
            body.append([label, name(method),
                         ', '.join(f'{v:.1f}' for v in values),
                         metric_cell(entry, metric),
                         metric_cell(e3va, metric),
                         f"{mean - ref['mean']:+.2f}",
                         'yes' if inside else 'no'])
    lines = [table(['metric', 'method', 'per seed', 'mean', 'E3VA',
                    'difference', "within E3VA's seeds"], body,
                   ['---', '---', '---', '---:', '---:', '---:', '---'])]
    rerun = [r for r in load_json(BANK_RERUN)['records'].values()
             if r['method'] == 'E3VA']
    records = load_json(f'{STUDY}/results.json')['records']
    for r in rerun:
        before = records[r['hash']]
        lines.append(
            f"\nE3VA {r['task']} seed {r['seed']} with the adapter bank: "
            + metrics_text(r['metrics'])
            + '; its record (per-adapter implementation): '
            + metrics_text(before['metrics']) + '.')
    return '\n'.join(lines)


# ------------------------------------------------------------------- params
PARAMS = 'docs/params'
# Config file key -> (description, the paper's backbone counts in M on
# Swin-B / Swin-L or None). Order of the table.
PARAM_ROWS = (
    ('full', 'full fine-tuning', (86.75, 198.58)),
    ('frozen', 'frozen backbone', (0, 0)),
    ('bitfit', 'BitFit: every Swin parameter named `*bias*` (bias vectors '
     'and relative position bias tables)', (0.20, 0.30)),
    ('lntune', 'LN-tune: Swin\'s LayerNorms', (0.06, 0.09)),
    ('partial1', 'Partial-1: the last block of the last stage',
     (12.60, 28.34)),
    ('adapter', 'Adapter (Houlsby), d=64, after attention and MLP',
     (3.11, 4.66)),
    ('lora', 'LoRA r=64 on the q and v parts of the fused qkv',
     (3.03, 4.57)),
    ('adaptformer', 'AdaptFormer d=64, s=0.1, beside attention and MLP',
     (3.11, 4.66)),
    ('lorand', 'LoRand: 2 branches, rank 8, d=C/2', (1.20, 1.31)),
    ('mona', 'Mona d=64 after attention and MLP', None),
    ('e3va', '**E3VA** rank 20, d=C/4, on the highway', (1.20, 1.79)),
    ('e3vaplus', 'E3VA+ defaults (this project, below)', None),
)


def tuning_dict(spec):
    """``'LoRA(rank=64, alpha=1)'`` -> ``"dict(type='LoRA', rank=64,
    alpha=1)"``."""
    name, _, args = spec.partition('(')
    args = args[:-1] if args.endswith(')') else args
    return f"dict(type='{name}'" + (f', {args}' if args else '') + ')'


def backbone_counts(path):
    """Config key (e.g. ``lora``) -> (method spec, backbone counts)."""
    rows = {}
    for row in load_json(path):
        key = re.search(r'-p4-w7-(\w+?)_', row['config']).group(1)
        rows[key] = (row['method'], row['counts']['backbone'])
    return rows


def count_cell(counts):
    trainable = counts['trainable']
    if trainable == 0:
        return '0'
    return f'{trainable / 1e6:.2f} M ({counts["trainable_share"]:.2%})'


def params_table():
    b = backbone_counts(f'{PARAMS}/swin-b_coco.json')
    voc = backbone_counts(f'{PARAMS}/swin-l_voc.json')
    ade = backbone_counts(f'{PARAMS}/swin-l_ade20k.json')
    defaults = {}
    for row in load_json(f'{PARAMS}/defaults.json'):
        defaults.setdefault(row['method'], []).append(
            row['counts']['backbone']['trainable'])
    header = ['method', '`tuning=` in the paper configs', 'Swin-B (COCO)',
              'Swin-L (VOC; ADE20K where it differs)', 'paper, B / L',
              'the method\'s own default']
    body = []
    for key, text, paper in PARAM_ROWS:
        spec, counts = b[key]
        large = count_cell(voc[key][1])
        if count_cell(ade[key][1]) != large:
            large += f'; {count_cell(ade[key][1])}'
        name = spec.split('(')[0]
        own = ('same' if name not in defaults else
               ' / '.join(f'{n / 1e6:.2f}' for n in defaults[name]) + ' M')
        body.append([
            text, f'`{tuning_dict(spec)}`', count_cell(counts), large,
            ('0 / 0' if paper == (0, 0) else
             f'{paper[0]:.2f} / {paper[1]:.2f} M' if paper else
             'not in the paper'), own])
    return table(header, body, ['---', '---', '---:', '---:', '---:',
                                '---'])


def tap_gradient_error():
    """The gradient error of each ``tap_dtype`` against exact taps
    (``tools/analysis/tap_gradient_error.py``)."""
    report = load_json(osp.join(BENCH, 'tap_gradient_error_study_swin.json'))
    return table(['`tap_dtype`', 'stored bytes / fp32', 'all parameters',
                  'largest single parameter'],
                 [[f"`'{k}'`", '1/4 + scales' if k == 'int8' else '1/2',
                   f"{r['all_parameters']:.1e}",
                   f"{r['largest_parameter']:.1e}"]
                  for k, r in report['rows'].items()],
                 ['---', '---:', '---:', '---:'])


# ------------------------------------------------------------------ configs
CONFIG_SETS = (
    # benchmark, folder, file pattern, model, schedule, E3VA in the paper
    ('COCO instance segmentation', 'coco',
     r'cascade-mask-rcnn_swin-(\w)-p4-w7-(\w+)_fpn_ms-crop-3x_coco\.py',
     'Cascade Mask R-CNN + FPN', '3x (36 epochs), multi-scale crop',
     'box / mask AP {:.1f} / {:.1f}'.format(*PAPER['coco']['E3VA'][:2])),
    ('ADE20K semantic segmentation', 'ade20k',
     r'upernet_swin-(\w)-p4-w7-(\w+)_8xb2-160k_ade20k-512x512\.py',
     'UperNet', '160k iterations, 512x512',
     'mIoU {:.2f}'.format(PAPER['ade20k']['E3VA'])),
    ('Pascal VOC detection', 'voc',
     r'retinanet_swin-(\w)-p4-w7-(\w+)_fpn_1x_voc0712\.py',
     'RetinaNet + FPN', 'VOC07+12 x3, 4 epochs, 1000x600',
     'AP {:.1f}'.format(PAPER['voc']['E3VA'][0])),
)
PAPER_SIZE = {'coco': 'b', 'ade20k': 'l', 'voc': 'l'}


def readme_configs():
    """One row per benchmark and set of methods: the Swin sizes, the
    paper's E3VA number (on the size the paper reports) and links to the
    E3VA configs."""
    header = ['benchmark', 'model', 'schedule', 'Swin', 'methods',
              'E3VA in the paper', 'E3VA configs']
    body = []
    for bench, folder, pattern, model, schedule, paper in CONFIG_SETS:
        found = {}
        for path in sorted(glob(osp.join(ROOT, 'configs', folder, '*.py'))):
            match = re.fullmatch(pattern, osp.basename(path))
            if match:
                found.setdefault(match.group(1), set()).add(match.group(2))
        groups = {}
        for size in 'tsbl':
            if size in found:
                groups.setdefault(frozenset(found[size]), []).append(size)
        for methods, sizes in sorted(groups.items(),
                                     key=lambda g: -len(g[0])):
            if len(methods) > 3:
                listed = (f'{len(methods)}: e3va, e3vaplus, full, frozen and '
                          f'{len(methods) - 4} baselines')
            else:
                listed = ', '.join(sorted(methods))
            links = ' '.join(
                f'[{size.upper()}](configs/{folder}/' + osp.basename(
                    glob(osp.join(ROOT, 'configs', folder,
                                  f'*swin-{size}-p4-w7-e3va_*.py'))[0]) + ')'
                for size in sizes)
            body.append([
                bench, model, schedule,
                ', '.join(size.upper() for size in sizes), listed,
                f'{paper} (Swin-{PAPER_SIZE[folder].upper()})'
                if PAPER_SIZE[folder] in sizes else '-', links])
    return table(header, body, ['---'] * len(header))


BLOCKS = {
    'readme-highlights': readme_highlights,
    'readme-efficiency': readme_efficiency,
    'readme-accuracy': readme_accuracy,
    'readme-configs': readme_configs,
    'params-table': params_table,
    'study-table': study_table,
    'study-seeds': study_seeds,
    'study-memory': study_memory,
    'study-paper': study_paper,
    'study-highway': study_highway,
    'study-selection': study_selection,
    'study-ablation': study_ablation,
    'study-taps': study_taps,
    'tap-gradient-error': tap_gradient_error,
}
BLOCKS.update({b: (lambda b=b: bench_block(b)) for b in BENCH_RUNS})

BLOCK_RE = re.compile(
    r'^(?P<indent>[ \t]*)(?P<open><!-- generated:(?P<name>[\w-]+) -->\n)'
    r'(?P<body>.*?)'
    r'^(?P=indent)(?P<close><!-- /generated:(?P=name) -->)', re.S | re.M)


def render(text, path='<text>'):
    """``text`` with every generated block rewritten. Unknown block names
    and unclosed blocks raise ``ValueError``."""
    opened = re.findall(r'<!-- generated:([\w-]+) -->', text)
    closed = re.findall(r'<!-- /generated:([\w-]+) -->', text)
    if sorted(opened) != sorted(closed):
        raise ValueError(f'{path}: unbalanced generated blocks: '
                         f'{sorted(set(opened) ^ set(closed))}')

    def replace(match):
        block, indent = match.group('name'), match.group('indent')
        if block not in BLOCKS:
            raise ValueError(f'{path}: unknown generated block {block!r}')
        body = '\n'.join(indent + line if line else line
                         for line in BLOCKS[block]().rstrip('\n').split('\n'))
        return (indent + match.group('open') + body + '\n' + indent +
                match.group('close'))

    new, count = BLOCK_RE.subn(replace, text)
    if count != len(opened):
        raise ValueError(f'{path}: {len(opened)} generated blocks, but only '
                         f'{count} well-formed (the closing marker must have '
                         f'the opening marker\'s indentation)')
    return new


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='change nothing; exit 1 if a block is stale')
    args = parser.parse_args(argv)
    stale = []
    for target in TARGETS:
        path = osp.join(ROOT, target)
        if not osp.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        new = render(text, target)
        if new != text:
            stale.append(target)
            if not args.check:
                with open(path, 'w') as f:
                    f.write(new)
    if args.check and stale:
        print('stale generated blocks in: ' + ', '.join(stale) +
              ' (run python tools/analysis/docs_tables.py)')
        return 1
    print(('up to date' if args.check else 'rewritten: ' +
           (', '.join(stale) or 'nothing')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
