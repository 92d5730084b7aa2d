"""E3VA+'s ablation table and plot from the study's summary of hand-built
records: differences to E3VA judged against the seed spread, memory and
time as ratios to E3VA, nothing written without E3VAPlus runs."""
import matplotlib.axes
import pytest

from tools.study.mini_study_ablation import (ablation_markdown,
                                                     ablation_rows,
                                                     plot_ablation)
from tools.study.mini_study_report import aggregate
from test_mini_study_report import by_hash, record


def runs(method, task, miou_by_seed, memory_mb=100.0, step_time_s=1.0):
    out = []
    for seed, value in miou_by_seed.items():
        r = record(task, method, seed, memory_mb, step_time_s)
        r['metrics'] = {k: value for k in r['metrics']}
        out.append(r)
    return out


METHODS = ['Full', 'E3VA', 'E3VAPlus', 'E3VAPlus-dw', 'E3VAPlus-gate']


def summary():
    return aggregate(by_hash(
        *runs('E3VA', 'seg', {0: 60.0, 1: 61.0, 2: 62.0}),
        *runs('E3VA', 'det', {0: 15.0}, memory_mb=300.0),
        *runs('E3VAPlus', 'seg', {0: 64.0, 1: 65.0, 2: 66.0},
              memory_mb=105.0, step_time_s=1.2),
        *runs('E3VAPlus-dw', 'seg', {0: 61.5, 1: 62.5, 2: 63.5}),
        *runs('E3VAPlus-gate', 'seg', {0: 59.0}),
        *runs('Full', 'seg', {0: 70.0})), METHODS)


def test_differences_are_judged_against_both_spreads():
    rows = ablation_rows(summary())
    by_method = {r['method']: r for r in rows}
    assert list(by_method) == ['E3VA', 'E3VAPlus', 'E3VAPlus-dw',
                               'E3VAPlus-gate']  # no Full, registry order
    miou = ('seg', 'mIoU')
    # stds are 1.0 each: +4 is beyond 2, +1.5 within, one seed undecided
    assert by_method['E3VAPlus']['cells'][miou][1] == pytest.approx(
        (4.0, 'beyond spread'))
    assert by_method['E3VAPlus-dw']['cells'][miou][1] == pytest.approx(
        (1.5, 'within spread'))
    assert by_method['E3VAPlus-gate']['cells'][miou][1] == pytest.approx(
        (-2.0, 'too few seeds'))
    # det comes first, but E3VAPlus has no det run: its ratios are seg's
    assert by_method['E3VA']['task'] == 'det'
    assert by_method['E3VAPlus']['task'] == 'seg'
    assert by_method['E3VAPlus']['memory_vs_e3va'] == pytest.approx(1.05)
    assert by_method['E3VAPlus']['time_vs_e3va'] == pytest.approx(1.2)
    assert by_method['E3VAPlus']['cells'][('det', 'det AP')] == ('-', None)

    table = ablation_markdown(summary())
    assert ('| E3VAPlus | 1.0 K (1.00%) | 1.05 | 1.20 | seg | - | - | '
            '65.0 ± 1.0 (3) (+4.0, beyond spread) | - |') in table
    assert ('| E3VA | 1.0 K (1.00%) | 1.00 | 1.00 | det | 15.0 (1) | 15.0 (1) '
            '| 61.0 ± 1.0 (3) | - |') in table


def test_nothing_without_e3vaplus_runs(tmp_path):
    only_paper = aggregate(by_hash(*runs('E3VA', 'seg', {0: 60.0}),
                                   *runs('Full', 'seg', {0: 62.0})),
                           METHODS)
    assert ablation_markdown(only_paper) == ''
    assert plot_ablation(only_paper, tmp_path / 'ablation.png') is None
    assert not (tmp_path / 'ablation.png').exists()


def test_plot_draws_each_variant_at_its_difference(tmp_path, monkeypatch):
    points = []
    errorbar = matplotlib.axes.Axes.errorbar

    def recording_errorbar(self, x, y, *args, **kwargs):
        points.append((y, x, kwargs['color']))
        return errorbar(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, 'errorbar', recording_errorbar)
    path = plot_ablation(summary(), tmp_path / 'ablation.png')
    assert path.stat().st_size > 0
    assert points == [(0, pytest.approx(4.0), 'tab:green'),
                      (1, pytest.approx(1.5), 'tab:gray'),
                      (2, pytest.approx(-2.0), 'tab:gray')]
