"""The mini-study's outputs from its records: per (task, method) means and
spreads over seeds, a markdown table shaped like the paper's with each
method's selected lr and the lr sweeps, a summary JSON and two plots
(accuracy against training memory; memory and time as ratios to full
fine-tuning)."""
import collections
import json
import statistics

from .e3va_plus_variants import E3VA_PLUS_ABLATIONS
from .e3va_tap_variants import E3VA_TAP_VARIANTS

from .mini_study import (PROTOCOL, TASKS, record_selection_data,
                         task_settings_line)
from .mini_study_lr_sweep import LR_GRID, START, describe

# The paper's column order; memory and time come from the first task here
# with full fine-tuning recorded (the paper's are COCO's).
COLUMNS = (('det', 'det AP'), ('det', 'mask AP'), ('seg', 'mIoU'),
           ('voc', 'VOC AP'))
REFERENCE_TASKS = ('det', 'seg', 'voc')


NOT_RECORDED = 'not recorded'
# E3VA+'s ablation variants: in the ablation table and plot, not in the
# accuracy-memory plot, where they sit on one another at E3VA's memory.
ABLATION_VARIANTS = frozenset(E3VA_PLUS_ABLATIONS) - {'E3VAPlus'}
# Likewise E3VA's tap_dtype variants (compared with E3VA in docs/study.md).
OFF_PLOT = ABLATION_VARIANTS | frozenset(E3VA_TAP_VARIANTS)


def _mean_std(values):
    return dict(mean=statistics.mean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.0,
                n=len(values), values=values)


def _summarise(runs):
    """Metrics (mean/std/n/values), parameters, and mean memory and time of
    one (task, method)'s runs (sorted by seed)."""
    return dict(
        seeds=[r['seed'] for r in runs],
        metrics={name: _mean_std([r['metrics'][name] for r in runs])
                 for name in runs[0]['metrics']},
        backbone_trainable=runs[0]['params']['backbone_trainable'],
        backbone_share=runs[0]['params']['backbone_share'],
        memory_mb=statistics.mean(r['memory_mb'] for r in runs),
        memory_key=runs[0]['memory_key'],
        step_time_s=statistics.mean(r['step_time_s'] for r in runs),
        cpu_s_per_iter=statistics.mean(r['cpu_s_per_iter'] for r in runs),
        device=runs[0]['machine']['device'],
        pretrained=[r['pretrained_sha1'][:8] if r.get('pretrained_sha1')
                    else NOT_RECORDED for r in runs],
        cpu_capability=[r['machine'].get('cpu_capability', NOT_RECORDED)
                        for r in runs],
        iters=runs[0]['settings']['iters'])


def _check_comparable(task, runs_by_method):
    """``ValueError`` naming the methods and values unless all of ``task``'s
    runs measured memory under one key on one device: their memory and
    time are averaged over seeds and divided by ``Full``'s."""
    for field, value_of in (('memory_key', lambda r: r['memory_key']),
                            ('device', lambda r: r['machine']['device'])):
        found = {method: sorted({value_of(r) for r in runs})
                 for method, runs in runs_by_method.items()}
        if len({v for values in found.values() for v in values}) > 1:
            listing = '; '.join(f"{method}: {', '.join(values)}"
                                for method, values in found.items())
            raise ValueError(
                f'mini-study task {task}: the records differ in {field} '
                f'({listing}); their memory and time cannot be averaged or '
                f'compared with Full')


def aggregate(records, methods):
    """``{task: {method: summary}}`` for the ``methods`` (in order) that
    have records; each summary holds mean/std/n/values of every metric and
    the means of parameters, memory and time, and ratios to ``Full``.
    Raises ``ValueError`` when a task's records differ in memory key or
    device."""
    summary = {}
    for task in TASKS:
        runs_by_method = {}
        for method in methods:
            runs = sorted((r for r in records.values()
                           if r['task'] == task and r['method'] == method),
                          key=lambda r: r['seed'])
            if runs:
                runs_by_method[method] = runs
        _check_comparable(task, runs_by_method)
        rows = {method: _summarise(runs)
                for method, runs in runs_by_method.items()}
        full = rows.get('Full')
        for row in rows.values():
            for key in ('memory_mb', 'step_time_s', 'cpu_s_per_iter'):
                row[key + '_vs_full'] = (row[key] / full[key]
                                         if full else None)
        if rows:
            summary[task] = rows
    return summary


def metric_cell(row, name):
    if row is None or name not in row['metrics']:
        return '-'
    m = row['metrics'][name]
    return (f"{m['mean']:.1f} ± {m['std']:.1f} ({m['n']})" if m['n'] > 1
            else f"{m['mean']:.1f} (1)")


def ratio_cell(value):
    return '-' if value is None else f'{value:.2f}'


def params_cell(row):
    n = row['backbone_trainable']
    text = f'{n / 1e6:.2f} M' if n >= 1e5 else f'{n / 1e3:.1f} K'
    return f"{text} ({100 * row['backbone_share']:.2f}%)"


def _settings_line(iters):
    return 'Settings: ' + '; '.join(
        task_settings_line(t, iters[t]) for t in TASKS) + '.'


def _selected_lr(method, sweeps):
    """The multiplier the table's runs of ``method`` use, per task where
    they differ, with † where its sweep is not complete."""
    cells = {}
    for task, by_method in sweeps.items():
        state = by_method.get(method)
        if state and state['selected'] is not None:
            cells[task] = describe(method, state['selected']) + (
                '' if state['complete'] else ' †')
    if len(set(cells.values())) == 1:
        return next(iter(cells.values()))
    return ', '.join(f'{t}: {c}' for t, c in cells.items()) or '-'


def _metrics_text(record, key):
    if record is None:
        return 'not run'
    return ', '.join(f'{k} {v:.1f}' for k, v in
                     record.get(key, {}).items()) or 'not measured'


def _sweep_lines(sweeps):
    """One row per swept candidate: its seed-0 metrics on the selection
    and the test splits, the selected one marked."""
    lines = ['', 'lr sweep (seed 0; selected on the selection split by the '
             "task's first metric; † in the table: not every candidate run "
             'yet):', '', '| task | method | lr | selection split | test '
             'split | |', '|---|---|---|---|---|---|']
    for task, by_method in sweeps.items():
        for method, state in by_method.items():
            if len(state['candidates']) < 2:
                continue
            for mults, r in state['candidates']:
                mark = 'selected' if mults == state['selected'] else ''
                if mark and state['at_grid_end']:
                    mark += ", at the grid's end"
                lines.append(f'| {task} | {method} | '
                             f'{describe(method, mults)} | '
                             f"{_metrics_text(r, 'select_metrics')} | "
                             f"{_metrics_text(r, 'metrics')} | {mark} |")
    return lines


def _selections(record):
    """``{images: select metrics}`` of ``record``'s selection splits: the
    current one and the earlier one it replaced (``earlier_selection``;
    not for a rerun, whose earlier metric is another run's)."""
    found = {}
    earlier = record.get('earlier_selection')
    if earlier and 'rerun_of' not in record:
        found[earlier['select_data']['num_val']] = earlier['select_metrics']
    if 'select_metrics' in record:
        found[record_selection_data(record)['num_val']] = (
            record['select_metrics'])
    return found


def selection_agreement(sweeps):
    """Per task, how well its selection splits order each method's sweep
    candidates: ``{task: {images: (pairs ordered as on the test split,
    pairs)}}`` over the pairs of one method's seed-0 candidates measured on
    a split of that many images (the current one or an earlier one)."""
    result = {}
    for task, by_method in sweeps.items():
        metric = next(iter(TASKS[task]['metrics']))
        counts = collections.defaultdict(lambda: [0, 0])
        for state in by_method.values():
            runs = [r for _, r in state['candidates'] if r is not None]
            for i, a in enumerate(runs):
                for b in runs[i + 1:]:
                    test = a['metrics'][metric] - b['metrics'][metric]
                    sa, sb = _selections(a), _selections(b)
                    for images in sa.keys() & sb.keys():
                        select = sa[images][metric] - sb[images][metric]
                        counts[images][0] += (select > 0) == (test > 0)
                        counts[images][1] += 1
        if counts:
            result[task] = {n: tuple(c) for n, c in sorted(counts.items())}
    return result


def _agreement_lines(sweeps):
    agreement = selection_agreement(sweeps)
    if not agreement:
        return []
    return ['', 'Selection splits against the test split: pairs of one '
            "method's seed-0 candidates ordered alike by both (earlier "
            'splits: measurements kept from before a split changed):', ''] + [
        f'- {task}: ' + '; '.join(
            f'{images} images: {alike} of {pairs}'
            for images, (alike, pairs) in by_size.items())
        for task, by_size in agreement.items()]


def _counted(values):
    counts = collections.Counter(values)
    return ', '.join(f'{v} x{n}' for v, n in sorted(
        counts.items(), key=lambda item: (item[0] == NOT_RECORDED, item[0])))


def _provenance_lines(summary):
    """Per task, how many of the table's runs started from each pretrained
    checkpoint (SHA-1, 8 digits) and ran on each CPU kind (ATen's CPU
    capability): runs of several of either do not share every bit of their
    starting point, and their times are not comparable."""
    lines = ['', 'Provenance of the runs above (pretrained checkpoint SHA-1; '
             "ATen CPU capability; older records did not record them):", '',
             '| task | pretrained checkpoint | CPU |', '|---|---|---|']
    for task, rows in summary.items():
        lines.append(f'| {task} | ' + ' | '.join(
            _counted([v for row in rows.values() for v in row[key]])
            for key in ('pretrained', 'cpu_capability')) + ' |')
    return lines


def markdown(summary, methods, iters, sweeps):
    """The paper-shaped table with each method's selected lr, memory and
    time for every task, then the lr sweeps; ``iters`` (task ->
    iterations) is stated with the protocol."""
    ref = next((t for t in REFERENCE_TASKS
                if t in summary and 'Full' in summary[t]),
               next(iter(summary), None))
    lines = [
        f'Memory and time: the `{ref}` task (training step, mean over '
        'seeds; ratio to full fine-tuning). Metrics: mean ± std over seeds '
        '(number of seeds).',
        '',
        '| method | backbone params | lr | memory MB (/ full) | s/iter '
        '(/ full) | det AP | mask AP | mIoU | VOC AP |',
        '|---|---:|---|---:|---:|---:|---:|---:|---:|']
    for method in methods:
        cells = {t: summary.get(t, {}).get(method) for t in TASKS}
        if not any(cells.values()):
            continue
        row = cells[ref] or next(r for r in cells.values() if r)
        eff = cells[ref]
        mem = (f"{eff['memory_mb']:.0f} "
               f"({ratio_cell(eff['memory_mb_vs_full'])})" if eff else '-')
        step = (f"{eff['step_time_s']:.3f} "
                f"({ratio_cell(eff['step_time_s_vs_full'])})" if eff else '-')
        lines.append(
            f'| {method} | {params_cell(row)} | '
            f'{_selected_lr(method, sweeps)} | {mem} | {step} | ' +
            ' | '.join(metric_cell(cells[t], name) for t, name in COLUMNS) +
            ' |')
    lines += ['', '| task | method | memory MB | / full | s/iter | / full | '
              'CPU s/iter | / full | memory meter | device |',
              '|---|---|---:|---:|---:|---:|---:|---:|---|---|']
    for task, rows in summary.items():
        for method, row in rows.items():
            lines.append(
                f"| {task} | {method} | {row['memory_mb']:.0f} | "
                f"{ratio_cell(row['memory_mb_vs_full'])} | "
                f"{row['step_time_s']:.3f} | "
                f"{ratio_cell(row['step_time_s_vs_full'])} | "
                f"{row['cpu_s_per_iter']:.3f} | "
                f"{ratio_cell(row['cpu_s_per_iter_vs_full'])} | "
                f"`{row['memory_key']}` | {row['device']} |")
    lines += _provenance_lines(summary)
    lines += _sweep_lines(sweeps)
    lines += _agreement_lines(sweeps)
    lines += ['', f'Protocol: {PROTOCOL}', '', _settings_line(iters)]
    return '\n'.join(lines) + '\n'


def write_summary(path, summary, sweeps, records, iters):
    lr_sweep = {
        task: {method: dict(
            selected=state['selected'], complete=state['complete'],
            at_grid_end=state['at_grid_end'],
            candidates=[dict(lr_mults=mults, hash=r and r['hash'],
                             select_metrics=r and r.get('select_metrics'),
                             metrics=r and r['metrics'])
                        for mults, r in state['candidates']])
            for method, state in by_method.items()}
        for task, by_method in sweeps.items()}
    with open(path, 'w') as f:
        json.dump(dict(protocol=PROTOCOL, tasks={
            t: dict(iters=iters[t], lr=TASKS[t]['lr'],
                    schedule=TASKS[t]['schedule'], config=TASKS[t]['config'])
            for t in TASKS}, lr_grid=LR_GRID, lr_start=START,
            lr_sweep=lr_sweep,
            summary=summary, num_records=len(records)), f, indent=1)


_HIGHLIGHT = {'Full': 'tab:red', 'Frozen': 'black', 'E3VA': 'tab:green',
              'LoRA': 'tab:blue'}


# Accuracy panels span at least this many points: autoscaling made a gap
# of 0.8 mIoU fill the panel.
MIN_METRIC_SPAN = 10.0


def widened(lo, hi, span=MIN_METRIC_SPAN):
    """The axis range ``(lo, hi)`` widened about its middle to ``span``
    when narrower."""
    if hi - lo >= span:
        return lo, hi
    middle = (lo + hi) / 2
    return middle - span / 2, middle + span / 2


def dodge_labels(ax, labelled, marker_pts=3, max_steps=6, samples=24):
    """Move the labels of ``labelled`` (``(annotation, yerr)`` pairs:
    annotations placed with ``textcoords='offset points'`` right of their
    point, the error bar's half-length in data units) up or down by whole
    label heights (at most ``max_steps`` each way), right or left of their
    point, to the place that, in this order: stays inside the axes (the
    right edge aside), covers the fewest other labels and markers
    (half-width ``marker_pts``), has the fewest other points nearer than
    its own, whose line to its point crosses the fewest markers, labels and
    error bars but its own (and the lines of labels placed before it: each
    line checked at ``samples`` points), covers the fewest error bars, is
    the nearest, is above rather than below, is on the right. Labels are
    placed in order of their point's height. Call after the axes' limits
    and layout are final."""
    import numpy as np
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox
    renderer = ax.figure.canvas.get_renderer()

    def text_box(label):  # the text alone, without its line to the point
        label.update_positions(renderer)
        return Text.get_window_extent(label, renderer)

    r = marker_pts * ax.figure.dpi / 72
    markers, bars = [], []
    for label, yerr in labelled:
        (x, lo), (_, y), (_, hi) = ax.transData.transform(
            [(label.xy[0], label.xy[1] + d) for d in (-yerr, 0, yerr)])
        markers.append(Bbox.from_extents(x - r, y - r, x + r, y + r))
        bars.append(Bbox.from_extents(x - r, min(lo, hi), x + r,
                                      max(lo, hi)))

    def leader(own, box):
        """Points of the line from the marker ``own`` to the centre of
        ``box``, outside both."""
        start = np.array([own.x0 + r, own.y0 + r])
        end = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        line = start + np.linspace(0, 1, samples)[:, None] * (end - start)
        return [p for p in line
                if not box.contains(*p) and not own.contains(*p)]

    placed, lines = [], []  # boxes of the labels placed, their lines

    def gap(box, marker):  # from the label to the marker's centre
        cx, cy = marker.x0 + r, marker.y0 + r
        return np.hypot(max(box.x0 - cx, 0, cx - box.x1),
                        max(box.y0 - cy, 0, cy - box.y1))

    def cost(i, box, k):
        own, line = markers[i], leader(markers[i], box)
        others = markers[:i] + markers[i + 1:]
        obstacles = others + placed
        outside = (box.y0 < ax.bbox.y0 or box.y1 > ax.bbox.y1
                   or box.x0 < ax.bbox.x0)
        own_gap = gap(box, own)
        nearer = sum(gap(box, m) < own_gap for m in others)
        return (outside,
                sum(box.overlaps(other) for other in obstacles), nearer,
                sum(any(o.contains(*p) for p in line)
                    for o in obstacles + bars[:i] + bars[i + 1:])
                + sum(any(box.contains(*p) for p in ln) for ln in lines),
                sum(box.overlaps(bar) for bar in bars), abs(k), -k)

    for i in sorted(range(len(labelled)), key=lambda i: markers[i].y0):
        label = labelled[i][0]
        x, y = label.xyann
        step = text_box(label).height * 72 / ax.figure.dpi
        best = None
        for side, align in ((1, 'left'), (-1, 'right')):
            label.set_horizontalalignment(align)
            for k in range(-max_steps, max_steps + 1):
                label.xyann = (side * x, y + k * step)
                box = text_box(label)
                candidate = cost(i, box, k) + (side < 0,), (side, k), box
                if best is None or candidate[0] < best[0]:
                    best = candidate
        (side, k), box = best[1:]
        label.set_horizontalalignment('left' if side > 0 else 'right')
        label.xyann = (side * x, y + k * step)
        placed.append(box)
        lines.append(leader(markers[i], box))


def plot_accuracy_vs_memory(summary, path):
    """One panel per metric column with data: mean metric (error bars: std
    over seeds) against mean training memory, one point per method but
    the variants of :data:`OFF_PLOT`; each panel spans at least
    :data:`MIN_METRIC_SPAN` points. A task with ablation variants only has
    no panel. Labels that would overlap are moved apart
    (:func:`dodge_labels`), with a line to their point."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [(t, n) for t, n in COLUMNS
              if set(summary.get(t, ())) - OFF_PLOT]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2),
                             squeeze=False)
    labelled = {}  # axes -> (annotation, error bar) pairs
    for ax, (task, name) in zip(axes[0], panels):
        for method, row in summary[task].items():
            if method in OFF_PLOT:
                continue
            m = row['metrics'][name]
            colour = _HIGHLIGHT.get(method, 'tab:gray')
            ax.errorbar(row['memory_mb'], m['mean'], yerr=m['std'],
                        fmt='o', color=colour, capsize=3)
            label = ax.annotate(f"{method} ({m['n']})",
                                (row['memory_mb'], m['mean']),
                                textcoords='offset points', xytext=(4, 4),
                                fontsize=8, color=colour,
                                arrowprops=dict(arrowstyle='-', color=colour,
                                                lw=0.5, shrinkA=0, shrinkB=3))
            labelled.setdefault(ax, []).append((label, m['std']))
        key = next(iter(summary[task].values()))['memory_key']
        xlabel = f'training memory, MB ({key})'
        if ABLATION_VARIANTS & set(summary[task]):
            xlabel += "\nE3VA+'s ablation variants: ablation.png"
        if E3VA_TAP_VARIANTS.keys() & set(summary[task]):
            xlabel += "\nE3VA's tap_dtype variants: docs/study.md"
        ax.set_xlabel(xlabel)
        ax.set_ylabel(name)
        ax.set_ylim(*widened(*ax.get_ylim()))
        ax.set_title(f'{task}: {name} vs training memory')
        ax.grid(alpha=0.3)
    fig.tight_layout()
    for ax, pairs in labelled.items():
        dodge_labels(ax, pairs)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory_time(summary, path):
    """Bars per method: training memory and step time as ratios to full
    fine-tuning, one bar per task."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    tasks = [t for t in summary if 'Full' in summary[t]]
    methods = []
    for t in tasks:
        methods += [m for m in summary[t] if m not in methods]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(methods) * 2),
                                            4.2))
    width = 0.8 / max(1, len(tasks))
    x = np.arange(len(methods))
    for ax, key, title in ((axes[0], 'memory_mb_vs_full',
                            'training memory / full fine-tuning'),
                           (axes[1], 'step_time_s_vs_full',
                            'time per step / full fine-tuning')):
        for i, task in enumerate(tasks):
            values = [summary[task][m][key] if m in summary[task]
                      else float('nan') for m in methods]
            ax.bar(x + (i - (len(tasks) - 1) / 2) * width, values, width,
                   label=task)
        ax.axhline(1.0, color='black', lw=0.8)
        ax.set_xticks(x, methods, rotation=45, ha='right')
        ax.set_title(title)
        if tasks:
            ax.legend()
        ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
