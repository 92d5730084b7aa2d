"""E3VA+'s ablation from the mini-study's summary (``aggregate``'s
``{task: {method: row}}``): E3VA and each E3VAPlus variant that has runs,
per metric the mean over seeds and the difference to E3VA with a verdict
against the seed spread, and training memory and step time as ratios to
E3VA's."""
from .e3va_plus_variants import E3VA_PLUS_ABLATIONS

from .mini_study_report import (COLUMNS, REFERENCE_TASKS, metric_cell,
                                params_cell, ratio_cell)

BASELINE = 'E3VA'
VARIANTS = tuple(E3VA_PLUS_ABLATIONS)
MIN_HALF_SPAN = 2.0  # the plot's x axis spans at least this either side


def difference(row, base, name):
    """``(variant - E3VA mean, verdict)`` for metric ``name``: 'beyond
    spread' when both have two seeds or more and the difference exceeds
    the sum of their standard deviations, 'within spread' when it does
    not, 'too few seeds' otherwise; ``None`` where either lacks the
    metric."""
    if row is None or base is None or name not in row['metrics'] \
            or name not in base['metrics']:
        return None
    m, b = row['metrics'][name], base['metrics'][name]
    delta = m['mean'] - b['mean']
    if min(m['n'], b['n']) < 2:
        return delta, 'too few seeds'
    beyond = abs(delta) > m['std'] + b['std']
    return delta, 'beyond spread' if beyond else 'within spread'


def ablation_rows(summary):
    """The E3VA row and each variant's with runs, in
    ``E3VA_PLUS_ABLATIONS`` order: ``dict(method, params, task,
    memory_vs_e3va, time_vs_e3va, cells={(task, metric): (text,
    difference)})``; memory and time on ``task``, the first of
    ``REFERENCE_TASKS`` where both the method and E3VA ran (``None``
    where there is none)."""
    rows = []
    for method in (BASELINE, ) + VARIANTS:
        by_task = {t: summary.get(t, {}).get(method) for t, _ in COLUMNS}
        if not any(by_task.values()):
            continue
        ref = next((t for t in REFERENCE_TASKS
                    if {method, BASELINE} <= set(summary.get(t, {}))), None)
        eff, base = ((summary[ref][method], summary[ref][BASELINE])
                     if ref else (None, None))
        rows.append(dict(
            method=method, task=ref,
            params=params_cell(next(r for r in by_task.values() if r)),
            memory_vs_e3va=eff and eff['memory_mb'] / base['memory_mb'],
            time_vs_e3va=eff and eff['step_time_s'] / base['step_time_s'],
            cells={(t, name): (metric_cell(by_task[t], name),
                               difference(by_task[t],
                                          summary.get(t, {}).get(BASELINE),
                                          name))
                   for t, name in COLUMNS}))
    return rows


def ablation_markdown(summary):
    """The ablation table (markdown), or ``''`` without E3VAPlus runs."""
    rows = ablation_rows(summary)
    if not any(r['method'] != BASELINE for r in rows):
        return ''
    names = [name for _, name in COLUMNS]
    lines = [
        'E3VA+ ablation: each metric mean ± std (seeds) and its difference '
        'to E3VA (beyond spread: larger than the two standard deviations '
        'added); training memory and step time as ratios to E3VA on the '
        f"first task of {', '.join(REFERENCE_TASKS)} where both ran.",
        '', '| method | backbone params | memory / E3VA | s/iter / E3VA | '
        'on | ' + ' | '.join(names) + ' |',
        '|---|---:|---:|---:|---|' + '---:|' * len(names)]
    for row in rows:
        cells = []
        for key in COLUMNS:
            text, diff = row['cells'][key]
            if diff is not None and row['method'] != BASELINE:
                text += f' ({diff[0]:+.1f}, {diff[1]})'
            cells.append(text)
        ratios = [ratio_cell(v)
                  for v in (row['memory_vs_e3va'], row['time_vs_e3va'])]
        lines.append(f"| {row['method']} | {row['params']} | "
                     f"{' | '.join(ratios)} | {row['task'] or '-'} | "
                     f"{' | '.join(cells)} |")
    return '\n'.join(lines) + '\n'


def plot_ablation(summary, path):
    """One panel per metric where a variant and E3VA both ran: each
    variant's difference to E3VA (error bar: the variant's std over seeds;
    green or red beyond the spread), E3VA's own std as a grey band around
    zero; the axis spans at least :data:`MIN_HALF_SPAN` points either
    side. Returns ``path``, or ``None`` (nothing drawn) without such a
    metric."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = ablation_rows(summary)
    variants = [r for r in rows if r['method'] != BASELINE]
    panels = [(t, n) for t, n in COLUMNS
              if any(r['cells'][(t, n)][1] for r in variants)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels),
                                                      0.5 * len(variants) + 2),
                             squeeze=False)
    for ax, (task, name) in zip(axes[0], panels):
        base = summary[task][BASELINE]['metrics'][name]
        ax.axvspan(-base['std'], base['std'], color='0.85')
        shown = [r for r in variants if r['cells'][(task, name)][1]]
        labels = []
        for y, row in enumerate(shown):
            delta, verdict = row['cells'][(task, name)][1]
            m = summary[task][row['method']]['metrics'][name]
            labels.append(f"{row['method']} ({m['n']})")
            colour = {'beyond spread': 'tab:green' if delta > 0 else
                      'tab:red'}.get(verdict, 'tab:gray')
            ax.errorbar(delta, y, xerr=m['std'], fmt='o', color=colour,
                        capsize=3)
        ax.set_yticks(range(len(shown)), labels)
        ax.set_ylim(len(shown) - 0.5, -0.5)  # the registry's order, top down
        ax.axvline(0, color='black', lw=0.8)
        lo, hi = ax.get_xlim()
        ax.set_xlim(min(lo, -MIN_HALF_SPAN), max(hi, MIN_HALF_SPAN))
        ax.set_xlabel(f"{name} - E3VA (points)\ngrey: E3VA ± std "
                      f"({base['n']} seeds)")
        ax.set_title(f'{task}: {name} against E3VA')
        ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
