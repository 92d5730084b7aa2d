"""The mini-study's calibration: learning curves of runs made with
``--curve N`` (validation every N iterations), to choose a schedule long
enough for the target objects to be learnt, before the study runs every
method. Such runs are recorded like the others and, with the study's
settings, are in its table (the curve is not part of the settings hash)."""
import os.path as osp

from tools.scenes.study_scenes import (TARGET_BACKGROUNDS,
                                              TARGET_CLASSES)

from .mini_study import replaced_runs


def curve_records(records):
    """The runs of ``records`` (hash -> record) that have a curve, the runs
    a record replaced (``rerun_of``) included, by task, method, seed,
    length and time."""
    runs = [run for r in records.values() for run in [r, *replaced_runs(r)]]
    return sorted((r for r in runs if r.get('curve')),
                  key=lambda r: (r['task'], r['method'], r['seed'],
                                 r['settings']['iters'],
                                 r.get('finished_at', '')))


def _mean_iou(table, classes):
    values = [table[c] for c in classes if c in table]
    return sum(values) / len(values) if values else float('nan')


def _rows(record):
    """One row per validation: iteration, metrics and, for seg, the mean
    IoU of the target objects and of the backgrounds."""
    for point in record['curve']:
        cells = {k: v for k, v in point.items()
                 if k not in ('iter', 'per_class_iou')}
        if 'per_class_iou' in point:
            table = point['per_class_iou']
            cells['objects IoU'] = _mean_iou(table, TARGET_CLASSES)
            cells['backgrounds IoU'] = _mean_iou(table, TARGET_BACKGROUNDS)
        yield point['iter'], cells


def _lr(settings):
    """The lr, and the multipliers of the pretrained Swin parameters and of
    the tuning modules where the run's settings have them (older records
    have neither: one lr for all)."""
    mults = [f'{name} x{settings[key]:g}' for key, name in (
        ('swin_lr_mult', 'Swin'), ('tuning_lr_mult', 'adapters'))
        if settings.get(key)]
    return f"{settings['lr']:g}" + (f" ({', '.join(mults)})" if mults else '')


def _variant(record):
    """The target scenes (version, training images) with the source
    pretraining's task (older records: dense), the pretrained checkpoint's
    SHA-1 and the resolved config's digest (both short), which tell
    calibrations of one method and lr apart (a run made again from another
    checkpoint has the same settings)."""
    settings = record['settings']
    data = settings['data']
    task = settings['pretrain'].get('task', 'dense')
    sha1 = record.get('pretrained_sha1')
    return (f"v{data.get('version', 1)}, {data['num_train']} train, "
            f"{'cls' if task == 'classification' else task} pretrain",
            sha1[:8] if sha1 else 'not recorded',
            settings['config_digest'][:6])


def _protocol(record):
    """The run's lr, scenes, pretraining, checkpoint and config in words
    (its plot colour)."""
    return (f"lr {_lr(record['settings'])}, scenes "
            '{}, checkpoint {}, config {}'.format(*_variant(record)))


def _label(record):
    """The run's legend entry: method, seed and protocol."""
    return f"{record['method']} seed {record['seed']}, {_protocol(record)}"


_STYLES = ('-', '--', ':', '-.')  # line style per method, Full first


def markdown(records):
    """A table per task: method, seed, lr, length, then one row per
    validation, ending with the scenes' version, the pretraining, the
    checkpoint and the config digest."""
    lines = ['# Mini-study calibration (learning curves)', '']
    for task in sorted({r['task'] for r in records}):
        task_records = [r for r in records if r['task'] == task]
        names = list(dict.fromkeys(
            k for r in task_records for _, cells in _rows(r) for k in cells))
        lines += [f'## {task}', '',
                  '| method | seed | lr | of iters | iter | ' +
                  ' | '.join(names) +
                  ' | scenes, pretraining | checkpoint | config |',
                  '|---|---:|---:|---:|---:|' + '---:|' * len(names) +
                  '---|---|---|']
        for r in task_records:
            for it, cells in _rows(r):
                lines.append(
                    f"| {r['method']} | {r['seed']} | "
                    f"{_lr(r['settings'])} | {r['settings']['iters']} | "
                    f'{it} | ' + ' | '.join(
                        f'{cells[n]:.1f}' if n in cells else '-'
                        for n in names) +
                    ' | {} | `{}` | `{}` |'.format(*_variant(r)))
        lines.append('')
    return '\n'.join(lines)


def plot(records, out_dir):
    """``calibration_<task>.png`` per task: each metric (and for seg the
    objects' and backgrounds' IoU) against the iteration, a line per run:
    its colour is the protocol (lr, scenes, pretraining, config), its style
    the method, its marker the seed. Returns the paths written."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    paths = []
    for task in sorted({r['task'] for r in records}):
        task_records = [r for r in records if r['task'] == task]
        names = list(dict.fromkeys(
            k for r in task_records for _, cells in _rows(r) for k in cells))
        ncol = 2 if len(names) > 2 else 1  # long labels: 2 need 3 panels
        legend_rows = -(-len(task_records) // ncol)
        legend_height = 0.19 * legend_rows  # inches, 8-pt rows
        height = 3.6 + legend_height
        # a legend column holds the longest run label: 8-pt characters of
        # about 0.056 inches, after the line sample
        column = 0.7 + 0.056 * max(len(_label(r)) for r in task_records)
        fig, axes = plt.subplots(1, len(names), squeeze=False,
                                 figsize=(max(4.2 * len(names),
                                              column * ncol), height))
        protocols = list(dict.fromkeys(_protocol(r) for r in task_records))
        methods = sorted({r['method'] for r in task_records},
                         key=lambda m: (m != 'Full', m != 'Frozen', m))
        for ax, name in zip(axes[0], names):
            top = 0.0
            for r in task_records:
                points = [(it, cells[name]) for it, cells in _rows(r)
                          if name in cells]
                top = max([top] + [v for _, v in points])
                ax.plot(*zip(*points), marker='os^D'[r['seed'] % 4],
                        color=plt.get_cmap('tab10')(
                            protocols.index(_protocol(r)) % 10),
                        ls=_STYLES[methods.index(r['method']) % 4],
                        label=_label(r))
            ax.set(title=f'{task}: {name}', xlabel='iteration',
                   ylabel=name, ylim=(0, min(100, max(10, 1.15 * top))))
            ax.grid(alpha=0.3)
        fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=8,
                   ncol=ncol, loc='lower center', frameon=False)
        fig.tight_layout(rect=(0, (legend_height + 0.1) / height, 1, 1))
        path = osp.join(out_dir, f'calibration_{task}.png')
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
