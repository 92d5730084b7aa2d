"""The mini-study report on hand-built records shaped like ``run_one``'s:
memory and time averaged over seeds and compared with Full only across
comparable records, methods without a record drawn as gaps; the study
tool's ``--iters`` checked."""
import importlib.util
import math

import matplotlib.axes
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from conftest import ROOT
from tools.study.mini_study import TASKS
from tools.study.mini_study_report import (aggregate, markdown,
                                                   plot_accuracy_vs_memory,
                                                   plot_memory_time,
                                                   selection_agreement)


def record(task, method, seed, memory_mb, step_time_s,
           memory_key='peak_mem_mb', device='cpu (2 cores)'):
    """A record with the layout ``run_one`` writes (values made up)."""
    return dict(
        hash=f'{task}-{method}-{seed}', task=task, method=method, seed=seed,
        settings=dict(task=task, method=method, seed=seed, iters=10),
        metrics={name: 20.0 + seed for name in TASKS[task]['metrics']},
        raw_metrics={},
        params=dict(backbone_trainable=1000, backbone_total=100000,
                    backbone_share=0.01, all_trainable=2000,
                    all_total=200000),
        memory_mb=memory_mb, memory_key=memory_key,
        memory_all_mb={memory_key: memory_mb}, step_time_s=step_time_s,
        train_cpu_s=20 * step_time_s, cpu_s_per_iter=2 * step_time_s,
        train_wall_s=10 * step_time_s, test_wall_s=1.0,
        machine=dict(hostname='host', device=device),
        finished_at='2024-01-01 00:00:00 UTC',
        work_dir=f'runs/{task}/{method}_seed{seed}')


def by_hash(*records):
    return {r['hash']: r for r in records}


def test_memory_and_time_are_averaged_and_compared_with_full():
    records = by_hash(record('seg', 'Full', 0, 100.0, 1.0),
                      record('seg', 'Full', 1, 300.0, 3.0),
                      record('seg', 'E3VA', 0, 50.0, 0.5))
    rows = aggregate(records, ['Full', 'E3VA'])['seg']
    assert rows['Full']['seeds'] == [0, 1]
    assert rows['Full']['memory_mb'] == 200.0
    assert rows['E3VA']['memory_mb_vs_full'] == 0.25
    assert rows['E3VA']['step_time_s_vs_full'] == 0.25
    assert rows['E3VA']['memory_key'] == 'peak_mem_mb'


def test_table_counts_the_pretrained_checkpoints_and_cpus_per_task():
    """Runs from other pretrained checkpoints or CPU kinds are counted in
    the provenance rows; records without them count as not recorded."""
    runs = [record('seg', 'Full', seed, 100.0, 1.0) for seed in range(3)]
    runs[0]['pretrained_sha1'] = runs[1]['pretrained_sha1'] = 'ab' * 20
    runs[0]['machine']['cpu_capability'] = 'AVX512'
    runs[1]['machine']['cpu_capability'] = 'AVX2'
    runs.append(record('voc', 'E3VA', 0, 50.0, 0.5))
    runs[-1]['pretrained_sha1'] = 'cd' * 20
    table = markdown(aggregate(by_hash(*runs), ['Full', 'E3VA']),
                     ['Full', 'E3VA'], dict(seg=10, det=10, voc=10), {})
    assert ('| seg | abababab x2, not recorded x1 | AVX2 x1, AVX512 x1, '
            'not recorded x1 |' in table)
    assert '| voc | cdcdcdcd x1 | not recorded x1 |' in table


def test_table_names_each_methods_lr_and_unfinished_sweeps():
    """The lr column holds the selected multiplier, † while the sweep has
    a candidate not run; the sweep rows show both splits' metrics and
    whether the selected multiplier is the grid's last."""
    full, e3va = (record('seg', 'Full', 0, 100.0, 1.0),
                  record('seg', 'E3VA', 0, 50.0, 0.5))
    full['select_metrics'] = e3va['select_metrics'] = dict(mIoU=30.0)
    x01, x1 = dict(swin_lr_mult=0.1), dict(swin_lr_mult=1.0)
    x5 = dict(swin_lr_mult=0.1, tuning_lr_mult=5.0)
    sweeps = dict(seg=dict(
        Full=dict(candidates=[(x01, full), (x1, None)], selected=x01,
                  complete=False, at_grid_end=False),
        E3VA=dict(candidates=[(x01, None), (x5, e3va)], selected=x5,
                  complete=True, at_grid_end=True)))
    records = by_hash(full, e3va)
    table = markdown(aggregate(records, ['Full', 'E3VA']), ['Full', 'E3VA'],
                     dict(seg=10, det=10, voc=10), sweeps)
    rows = {line.split(' | ')[0][2:]: line for line in table.splitlines()
            if line.startswith('| Full |') or line.startswith('| E3VA |')}
    assert '| Swin x0.1 † |' in rows['Full']
    assert '| adapters x5 |' in rows['E3VA']
    assert '| seg | Full | Swin x1 | not run | not run |  |' in table
    assert ('| seg | E3VA | adapters x5 | mIoU 30.0 | mIoU 20.0 | selected, '
            "at the grid's end |" in table)


def test_selection_splits_are_scored_by_the_pairs_they_order_alike():
    """Each selection split (the current one and, kept in
    ``earlier_selection``, the one before) against the test split: how many
    pairs of one method's sweep candidates they order the same way."""
    data = dict(num_train=40, num_val=30, seed=1)
    runs = []
    for i, (test, now, before) in enumerate(
            ((10.0, 12.0, 14.0), (15.0, 16.0, 13.0), (20.0, 18.0, 18.0))):
        run = record('voc', 'E3VA', 0, 50.0, 0.5)
        run['settings']['data'] = data
        run['metrics'] = {'VOC AP': test}
        run['select_metrics'] = {'VOC AP': now}
        run['select_data'] = dict(data, num_train=0, num_val=120, seed=11)
        run['earlier_selection'] = dict(
            select_metrics={'VOC AP': before},
            select_data=dict(data, num_train=0, seed=11))
        runs.append((dict(tuning_lr_mult=5.0 ** i), run))
    sweeps = dict(voc=dict(E3VA=dict(
        candidates=runs + [(dict(tuning_lr_mult=125.0), None)],
        selected=runs[2][0], complete=False, at_grid_end=False)))
    assert selection_agreement(sweeps) == dict(voc={30: (2, 3),
                                                    120: (3, 3)})
    # A rerun's earlier metric is another run's: left out.
    runs[1][1]['rerun_of'] = dict(metrics={'VOC AP': 17.0})
    assert selection_agreement(sweeps) == dict(voc={30: (1, 1),
                                                    120: (3, 3)})
    del runs[1][1]['rerun_of']
    # A record from before select_data: its split is the val split's size
    # (12 there orders both of its pairs as the test split does).
    del runs[0][1]['select_data'], runs[0][1]['earlier_selection']
    assert selection_agreement(sweeps) == dict(voc={30: (3, 3),
                                                    120: (1, 1)})
    table = markdown(aggregate(by_hash(runs[2][1]), ['E3VA']), ['E3VA'],
                     dict(seg=10, det=10, voc=10), sweeps)
    assert '- voc: 30 images: 3 of 3; 120 images: 1 of 1' in table


@pytest.mark.parametrize('odd, named', [
    (dict(method='E3VA', seed=0, memory_key='rss_mb'),
     ['memory_key', 'E3VA', 'rss_mb', 'Full', 'peak_mem_mb']),
    (dict(method='Full', seed=1, device='NVIDIA H100'),
     ['device', 'Full', 'NVIDIA H100', 'cpu (2 cores)']),
])
def test_incomparable_records_are_refused_naming_them(odd, named):
    """Across methods (a ratio to Full) or across seeds (a mean)."""
    odd_record = record('seg', memory_mb=80.0, step_time_s=0.8, **odd)
    records = by_hash(record('seg', 'Full', 0, 100.0, 1.0),
                      record('seg', 'E3VA', 1, 50.0, 0.5), odd_record)
    with pytest.raises(ValueError, match='task seg') as err:
        aggregate(records, ['Full', 'E3VA'])
    for text in named:
        assert text in str(err.value), text


def test_method_without_a_record_is_a_gap_not_a_zero_bar(
        tmp_path, monkeypatch):
    records = by_hash(record('seg', 'Full', 0, 100.0, 1.0),
                      record('seg', 'E3VA', 0, 25.0, 0.5),
                      record('voc', 'Full', 0, 200.0, 2.0))
    bars = []
    draw_bars = matplotlib.axes.Axes.bar

    def recording_bar(self, x, height, *args, **kwargs):
        bars.append((kwargs['label'], list(height)))
        return draw_bars(self, x, height, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, 'bar', recording_bar)
    path = tmp_path / 'memory_time.png'
    plot_memory_time(aggregate(records, ['Full', 'E3VA']), path)
    assert path.stat().st_size > 0
    memory = dict(bars[:2])  # the memory panel: one bar series per task
    assert memory['seg'] == [1.0, 0.25]
    assert memory['voc'][0] == 1.0 and math.isnan(memory['voc'][1])


def test_close_accuracies_are_not_stretched_over_the_panel(
        tmp_path, monkeypatch):
    """Methods 0.8 points apart (seed 0 vs 1 here: 1 point) share a panel
    of at least 10 points; without any Full the memory/time bars are
    empty, drawn without a legend."""
    records = by_hash(record('seg', 'Full', 1, 100.0, 1.0),
                      record('seg', 'Frozen', 0, 60.0, 0.5))
    limits = []
    set_ylim = matplotlib.axes.Axes.set_ylim

    def recording_set_ylim(self, *args, **kwargs):
        limits.append(args)
        return set_ylim(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, 'set_ylim', recording_set_ylim)
    summary = aggregate(records, ['Full', 'Frozen'])
    plot_accuracy_vs_memory(summary, tmp_path / 'accuracy.png')
    (lo, hi) = limits[-1]
    assert hi - lo == pytest.approx(10.0) and lo < 20.0 and hi > 21.0
    legends = []
    monkeypatch.setattr(matplotlib.axes.Axes, 'legend',
                        lambda self, *a, **k: legends.append(self))
    del summary['seg']['Full']
    plot_memory_time(summary, tmp_path / 'memory_time.png')
    assert legends == [] and (tmp_path / 'memory_time.png').exists()


def test_accuracy_plot_leaves_the_ablation_variants_out(tmp_path,
                                                       monkeypatch):
    """E3VAPlus is a point of the accuracy-memory plot; its ablation
    variants (at E3VA's memory) are not, and the axis says where they
    are. A task with ablation variants only gets no (empty) panel."""
    records = by_hash(record('seg', 'E3VA', 0, 60.0, 0.5),
                      record('seg', 'E3VAPlus', 0, 62.0, 0.5),
                      record('seg', 'E3VAPlus-dw', 0, 61.0, 0.5),
                      record('voc', 'E3VAPlus-dw', 0, 30.0, 0.1))
    labels, xlabels = [], []
    annotate = matplotlib.axes.Axes.annotate
    set_xlabel = matplotlib.axes.Axes.set_xlabel
    monkeypatch.setattr(matplotlib.axes.Axes, 'annotate',
                        lambda self, text, *a, **k: labels.append(text)
                        or annotate(self, text, *a, **k))
    monkeypatch.setattr(matplotlib.axes.Axes, 'set_xlabel',
                        lambda self, text, *a, **k: xlabels.append(text)
                        or set_xlabel(self, text, *a, **k))
    plot_accuracy_vs_memory(
        aggregate(records, ['E3VA', 'E3VAPlus', 'E3VAPlus-dw']),
        tmp_path / 'accuracy.png')
    assert sorted(labels) == ['E3VA (1)', 'E3VAPlus (1)']
    assert len(xlabels) == 1 and 'ablation.png' in xlabels[0]
    assert (tmp_path / 'accuracy.png').exists()


def build_tool_parser():
    spec = importlib.util.spec_from_file_location(
        'mini_study_tool', ROOT / 'tools/analysis/mini_study.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.build_parser()


def test_iters_option():
    parser = build_tool_parser()
    assert parser.parse_args([]).iters is None
    assert parser.parse_args(['--iters', '3']).iters == 3


@pytest.mark.parametrize('value', ['0', '-2'])
def test_iters_below_one_is_rejected(value, capsys):
    with pytest.raises(SystemExit):
        build_tool_parser().parse_args(['--iters', value])
    error = capsys.readouterr().err
    assert '--iters' in error and 'at least 1' in error, error


def plotted_labels(monkeypatch, summary, path):
    """Draw ``plot_accuracy_vs_memory(summary, path)``; its point labels."""
    labels = []
    annotate = matplotlib.axes.Axes.annotate
    monkeypatch.setattr(
        matplotlib.axes.Axes, 'annotate',
        lambda self, *a, **k: labels.append(annotate(self, *a, **k))
        or labels[-1])
    plot_accuracy_vs_memory(summary, path)
    return labels


def test_accuracy_plot_moves_overlapping_labels_apart(tmp_path, monkeypatch):
    """Methods at the same memory and metric (BitFit and LN-tune next to
    Frozen on det) get labels that overlap neither one another nor a
    point; a label with room keeps its place beside its point."""
    records = by_hash(*(record('seg', method, 0, 200.0, 0.5)
                        for method in ('Frozen', 'BitFit', 'LNTune')),
                      record('seg', 'Full', 0, 300.0, 0.5))
    records['seg-Full-0']['metrics']['mIoU'] = 25.0
    methods = ['Full', 'Frozen', 'BitFit', 'LNTune']
    labels = plotted_labels(monkeypatch, aggregate(records, methods),
                            tmp_path / 'accuracy.png')
    assert len(labels) == 4 and (tmp_path / 'accuracy.png').exists()
    # the plot closed its figure: a fresh Agg canvas measures the labels
    renderer = FigureCanvasAgg(labels[0].figure).get_renderer()
    boxes = {}
    for t in labels:  # the text alone, without its line to the point
        t.update_positions(renderer)
        boxes[t.get_text()] = Text.get_window_extent(t, renderer)
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not boxes[a].overlaps(boxes[b]), (a, b)
    points = [t.axes.transData.transform(t.xy) for t in labels]
    for name, box in boxes.items():
        assert not any(box.contains(*point) for point in points), name
    offsets = {t.get_text(): t.xyann for t in labels}
    assert offsets['Full (1)'] == (4, 4)
    assert len({offsets[f'{m} (1)'] for m in ('Frozen', 'BitFit', 'LNTune')
                }) == 3


def test_crowded_labels_sit_nearest_their_point_and_lines_miss_markers(
        tmp_path, monkeypatch):
    """det's crowded corner (memory MB, box AP of the study's methods):
    each label is inside the axes and nearer its own point than any other,
    and no line from a label to its point passes through another marker
    (markers on top of its own aside); some labels go left of their point
    to manage it."""
    crowd = {'Full': (471, 30.9), 'Frozen': (329, 12.9),
             'BitFit': (323, 13.1), 'LNTune': (358, 16.2),
             'Partial-1': (328, 12.8), 'Adapter': (393, 19.5),
             'LoRA': (368, 18.1), 'LoRand': (347, 17.1),
             'E3VA': (358, 19.3), 'AdaptFormer': (420, 30.7)}
    records = {}
    for method, (memory, metric) in crowd.items():
        r = record('seg', method, 0, float(memory), 0.5)
        r['metrics']['mIoU'] = metric
        records[r['hash']] = r
    labels = plotted_labels(monkeypatch, aggregate(records, list(crowd)),
                            tmp_path / 'accuracy.png')
    ax = labels[0].axes
    renderer = FigureCanvasAgg(ax.figure).get_renderer()
    r = 3 * ax.figure.dpi / 72  # the markers' half-width
    points = {t.get_text(): ax.transData.transform(t.xy) for t in labels}
    for t in labels:
        t.update_positions(renderer)
        box = Text.get_window_extent(t, renderer)
        assert box.x0 >= ax.bbox.x0 and ax.bbox.y0 <= box.y0, t.get_text()
        assert box.y1 <= ax.bbox.y1, t.get_text()

        def gap(point):
            return np.hypot(max(box.x0 - point[0], 0, point[0] - box.x1),
                            max(box.y0 - point[1], 0, point[1] - box.y1))
        own = points[t.get_text()]
        others = [p for name, p in points.items() if name != t.get_text()]
        apart = [p for p in others if np.hypot(*(p - own)) > 2 * r]
        assert all(gap(own) <= gap(p) for p in apart), t.get_text()
        centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        line = own + np.linspace(0, 1, 200)[:, None] * (centre - own)
        line = [q for q in line if not box.contains(*q)]
        assert not any(np.hypot(*(q - p)) < r for q in line for p in apart
                       ), t.get_text()
    assert any(t.get_horizontalalignment() == 'right' for t in labels)
