"""The mini-study's lr sweep: which part of the backbone each method trains,
its candidate multipliers, seed 0 at every candidate before other seeds,
selection on the selection split (not the test split) and the table's
records at the selected multiplier."""
import pytest

from tools.study.mini_study import (QUICK, run_settings,
                                            selection_data, settings_hash)
from tools.study.mini_study_lr_sweep import (candidates, describe,
                                                     needs_selection, plan,
                                                     sweep, table_records,
                                                     trained_part)

DATA, PRETRAIN, ITERS = QUICK['data'], QUICK['pretrain'], dict(seg=2)
SWIN = [dict(swin_lr_mult=0.1, tuning_lr_mult=1.0),
        dict(swin_lr_mult=1.0, tuning_lr_mult=1.0)]
ADAPTERS = [dict(swin_lr_mult=0.1, tuning_lr_mult=1.0),
            dict(swin_lr_mult=0.1, tuning_lr_mult=5.0)]


@pytest.mark.parametrize('method,part,grid', [
    ('Full', 'swin', SWIN), ('BitFit', 'swin', SWIN),
    ('Partial-1', 'swin', SWIN), ('Frozen', None, SWIN[:1]),
    ('LoRA', 'tuning', ADAPTERS), ('E3VA', 'tuning', ADAPTERS),
    ('E3VAPlus', 'tuning', ADAPTERS)])
def test_each_method_sweeps_the_part_it_trains(method, part, grid):
    assert trained_part(method) == part
    assert candidates(method) == grid


def test_multiplier_one_stays_out_of_the_settings():
    """The default candidate's settings (and hash) are those of the records
    made before the sweep: no ``tuning_lr_mult`` key."""
    default, x5 = (run_settings('seg', 'E3VA', 0, 2, DATA, PRETRAIN, m)
                   for m in ADAPTERS)
    assert 'tuning_lr_mult' not in default and x5['tuning_lr_mult'] == 5.0
    assert settings_hash(default) != settings_hash(x5)
    assert describe('E3VA', x5) == 'adapters x5'
    assert describe('Full', SWIN[1]) == 'Swin x1'
    assert describe('Frozen', SWIN[0]) == 'heads only'


def _record(method, seed, mults, select, test):
    settings = run_settings('seg', method, seed, 2, DATA, PRETRAIN, mults)
    record = dict(hash=settings_hash(settings), task='seg', method=method,
                  seed=seed, settings=settings, metrics=dict(mIoU=test))
    if select is not None:
        record['select_metrics'] = dict(mIoU=select)
    return record


def _methods(todo):
    return [(s['method'], s['seed'], describe(s['method'], s))
            for s in todo]


def test_seed_zero_sweeps_then_other_seeds_run_at_the_selection():
    seeds = dict(Full=(0, 1), Frozen=(0, 1), E3VA=(0, 1))
    todo, waiting = plan(['seg'], seeds, ITERS, DATA, PRETRAIN, {})
    assert _methods(todo) == [
        ('Full', 0, 'Swin x0.1'), ('Full', 0, 'Swin x1'),
        ('Frozen', 0, 'heads only'), ('E3VA', 0, 'adapters x1'),
        ('E3VA', 0, 'adapters x5'), ('Frozen', 1, 'heads only')]
    assert waiting == [('seg', 'Full', 1), ('seg', 'E3VA', 1)]

    # E3VA x5 is better on the selection split and worse on the test split;
    # Full's candidates tie on the selection split (the default is kept);
    # E3VA x1 was recorded before the selection split existed.
    made = [_record('Full', 0, SWIN[0], 50.0, 60.0),
            _record('Full', 0, SWIN[1], 50.0, 70.0),
            _record('Frozen', 0, SWIN[0], 40.0, 45.0),
            _record('E3VA', 0, ADAPTERS[0], None, 58.0),
            _record('E3VA', 0, ADAPTERS[1], 48.0, 52.0)]
    records = {r['hash']: r for r in made}
    assert needs_selection(['seg'], seeds, ITERS, DATA, PRETRAIN,
                           records) == [made[3]]
    state = sweep('seg', 'E3VA', 2, DATA, PRETRAIN, records)
    assert not state['complete'] and state['selected'] == ADAPTERS[1]
    todo, waiting = plan(['seg'], seeds, ITERS, DATA, PRETRAIN, records)
    assert _methods(todo) == [('Full', 1, 'Swin x0.1'),
                              ('Frozen', 1, 'heads only')]
    assert waiting == [('seg', 'E3VA', 1)]

    # x5 wins at the top end run: x25 joins the sweep before seed 1 runs;
    # x25 is worse, so x5, inside the range run, is selected.
    made[3]['select_metrics'] = dict(mIoU=47.0)
    todo, waiting = plan(['seg'], seeds, ITERS, DATA, PRETRAIN, records)
    assert _methods(todo)[-3:] == [('E3VA', 0, 'adapters x25'),
                                   ('Full', 1, 'Swin x0.1'),
                                   ('Frozen', 1, 'heads only')]
    assert waiting == [('seg', 'E3VA', 1)]
    x25 = _record('E3VA', 0, dict(ADAPTERS[1], tuning_lr_mult=25.0), 46.0,
                  55.0)
    records[x25['hash']] = x25
    todo, waiting = plan(['seg'], seeds, ITERS, DATA, PRETRAIN, records)
    assert _methods(todo)[-1] == ('E3VA', 1, 'adapters x5') and not waiting
    seed1 = _record('E3VA', 1, ADAPTERS[1], 49.0, 53.0)
    records[seed1['hash']] = seed1
    table, sweeps = table_records(ITERS, DATA, PRETRAIN, records)
    assert sorted(table) == sorted(r['hash'] for r in (
        made[0], made[2], made[4], seed1))
    assert sweeps['seg']['E3VA']['complete']
    assert not sweeps['seg']['E3VA']['at_grid_end']
    assert sweeps['seg']['Full']['selected'] == SWIN[0]


def test_a_metric_on_another_selection_split_counts_as_missing():
    """voc selects on four times the test split's images: a record
    measured on the val split's size (the records before, without
    ``select_data``) needs the current split, seg's does not."""
    assert selection_data(DATA, 'voc')['num_val'] == 4 * DATA['num_val']
    assert selection_data(DATA, 'seg')['num_val'] == DATA['num_val']
    for task, stale in (('seg', False), ('voc', True)):
        made = []
        for mults in ADAPTERS:
            settings = run_settings(task, 'E3VA', 0, 2, DATA, PRETRAIN,
                                    mults)
            made.append(dict(hash=settings_hash(settings), task=task,
                             method='E3VA', seed=0, settings=settings,
                             select_metrics={'mIoU': 1.0, 'VOC AP': 1.0}))
        records = {r['hash']: r for r in made}
        found = needs_selection([task], ['E3VA', 'Frozen'], {task: 2}, DATA,
                                PRETRAIN, records)
        assert found == (made if stale else [])
        state = sweep(task, 'E3VA', 2, DATA, PRETRAIN, records)
        assert state['complete'] is not stale
        # x1 measured (0) on the current split: seg's x5 (1) wins and
        # widens the sweep to x25; voc's x5 still needs the current split.
        made[0]['select_data'] = selection_data(DATA, task)
        made[0]['select_metrics'] = {'mIoU': 0.0, 'VOC AP': 0.0}
        found = needs_selection([task], ['E3VA'], {task: 2}, DATA, PRETRAIN,
                                records)
        assert found == ([made[1]] if stale else [])
        state = sweep(task, 'E3VA', 2, DATA, PRETRAIN, records)
        assert state['selected'] == ADAPTERS[0 if stale else 1]
        assert not state['complete']
        assert len(state['candidates']) == (2 if stale else 3)


def test_a_winning_end_widens_the_sweep_to_the_grids_end():
    """Down for Full (x0.1 beats x1, then x0.01 beats x0.1), up for
    E3VA (x5, then x25): one step at a time, each needing its run, and the
    last multiplier of the grid is marked."""
    def state(method, scores):
        made = [_record(method, 0, mults, score, score)
                for mults, score in scores]
        records = {r['hash']: r for r in made}
        return sweep('seg', method, 2, DATA, PRETRAIN, records)

    x001 = dict(SWIN[0], swin_lr_mult=0.01)
    full = state('Full', [(SWIN[0], 50.0), (SWIN[1], 40.0)])
    assert [m for m, _ in full['candidates']] == [x001] + SWIN
    assert not full['complete'] and full['selected'] == SWIN[0]
    full = state('Full', [(SWIN[0], 50.0), (SWIN[1], 40.0), (x001, 55.0)])
    assert full['complete'] and full['at_grid_end']
    assert full['selected'] == x001

    x25 = dict(ADAPTERS[1], tuning_lr_mult=25.0)
    x125 = dict(ADAPTERS[1], tuning_lr_mult=125.0)
    e3va = state('E3VA', [(ADAPTERS[0], 40.0), (ADAPTERS[1], 50.0),
                          (x25, 60.0)])
    assert [m for m, _ in e3va['candidates']] == ADAPTERS + [x25, x125]
    assert not e3va['complete']
    e3va = state('E3VA', [(ADAPTERS[0], 40.0), (ADAPTERS[1], 50.0),
                          (x25, 60.0), (x125, 70.0)])
    assert e3va['complete'] and e3va['at_grid_end']
    assert describe('E3VA', e3va['selected']) == 'adapters x125'
    x3, x10 = (dict(SWIN[1], swin_lr_mult=m) for m in (3.0, 10.0))
    full = state('Full', [(SWIN[0], 40.0), (SWIN[1], 50.0), (x3, 55.0),
                          (x10, 52.0)])
    assert [m for m, _ in full['candidates']] == SWIN + [x3, x10]
    assert full['complete'] and not full['at_grid_end']
    assert full['selected'] == x3

    # The quick mode keeps the start pair.
    made = [_record('Full', 0, SWIN[0], 50.0, 50.0),
            _record('Full', 0, SWIN[1], 40.0, 40.0)]
    records = {r['hash']: r for r in made}
    quick = sweep('seg', 'Full', 2, DATA, PRETRAIN, records, widen=False)
    assert [m for m, _ in quick['candidates']] == SWIN
    assert quick['complete'] and quick['selected'] == SWIN[0]
    assert plan(['seg'], dict(Full=(0, 1)), ITERS, DATA, PRETRAIN, records,
                widen=False)[0][0]['seed'] == 1


def test_tap_variants_run_every_seed_at_e3vas_selection():
    """E3VA+tap-* (the same function as E3VA) sweep nothing: they wait for
    E3VA's sweep, then run seeds 0 and 1 at its multiplier, and the table
    takes their records there."""
    seeds = {'E3VA': (0, ), 'E3VA+tap-int8': (0, 1)}
    todo, waiting = plan(['seg'], seeds, ITERS, DATA, PRETRAIN, {})
    assert _methods(todo) == [('E3VA', 0, 'adapters x1'),
                              ('E3VA', 0, 'adapters x5')]
    assert waiting == [('seg', 'E3VA+tap-int8', 0),
                       ('seg', 'E3VA+tap-int8', 1)]
    x25 = dict(ADAPTERS[1], tuning_lr_mult=25.0)
    made = [_record('E3VA', 0, ADAPTERS[0], 40.0, 50.0),
            _record('E3VA', 0, ADAPTERS[1], 48.0, 52.0),
            _record('E3VA', 0, x25, 45.0, 53.0)]
    records = {r['hash']: r for r in made}
    todo, waiting = plan(['seg'], seeds, ITERS, DATA, PRETRAIN, records)
    assert _methods(todo) == [('E3VA+tap-int8', 0, 'adapters x5'),
                              ('E3VA+tap-int8', 1, 'adapters x5')]
    assert waiting == [] and todo[0]['tuning']['tap_dtype'] == 'int8'
    variant = _record('E3VA+tap-int8', 0, ADAPTERS[1], 47.0, 51.0)
    records[variant['hash']] = variant
    table, sweeps = table_records(ITERS, DATA, PRETRAIN, records)
    assert variant['hash'] in table
    assert len(sweeps['seg']['E3VA+tap-int8']['candidates']) == 1
