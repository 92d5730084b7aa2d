"""The mini-study's learning-rate protocol: the same small sweep for every
method, selected on a held-out split.

A method that trains part of the backbone runs seed 0 at multipliers of the
task lr: the pretrained Swin parameters it updates (Full, BitFit, LN-tune,
Partial) at ``swin_lr_mult`` 0.1 and 1, or its new backbone modules
(adapters, LoRA, E3VA's highway and norm deltas) at ``tuning_lr_mult`` 1
and 5; the heads always train at the task lr, and the frozen backbone has
nothing to sweep. Each run is also tested on its task's selection
split (:func:`~tools.study.mini_study.selection_data`; a metric
measured on another selection split counts as missing), and the
multiplier with the better selection metric (the task's first metric; a tie
keeps the lower one) is the method's for its other seeds and the table. When
the best is an end of the multipliers run so far (alone: a tie stops), the
sweep goes one step further on that side of :data:`LR_GRID` (Swin 0.01,
3, 10; new modules 0.2, 25, 125), until the best is inside the range run or
at the grid's end. A method of :data:`~tools.study.e3va_tap_variants.LR_FROM`
(the same function as another) runs every seed at that method's selection.
"""
import functools
import os.path as osp

from .e3va_tap_variants import LR_FROM
from .mini_study import (METHODS, ROOT, TASKS, record_selection_data,
                         run_settings, selection_data, settings_hash)

SWEEP_SEED = 0
# The multipliers each trained part may be swept over, in increasing order;
# a sweep starts at the two at START (the first of them is the default) and
# extends one step beyond a winning end.
LR_GRID = dict(swin=('swin_lr_mult', (0.01, 0.1, 1.0, 3.0, 10.0)),
               tuning=('tuning_lr_mult', (0.2, 1.0, 5.0, 25.0, 125.0)))
START = (1, 2)
_DEFAULT = {key: values[START[0]] for key, values in LR_GRID.values()}


@functools.lru_cache
def study_backbone_args():
    """The study Swin's arguments (the seg config's, no checkpoint)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, TASKS['seg']['config']))
    return {k: v for k, v in cfg.model.backbone.items()
            if k not in ('type', 'init_cfg', 'tuning')}


@functools.lru_cache
def trained_part(method):
    """``'swin'`` if ``method`` trains pretrained Swin parameters,
    ``'tuning'`` if it trains new backbone modules (``tuning.*``), None if
    the backbone is frozen: read from the study Swin built with the
    method's tuning."""
    from mmdet_e3va.models import TunedSwinTransformer
    backbone = TunedSwinTransformer(**study_backbone_args(),
                                    tuning=METHODS[method])
    parts = {'tuning' if name.startswith('tuning.') else 'swin'
             for name, p in backbone.named_parameters() if p.requires_grad}
    if len(parts) > 1:
        raise ValueError(f'method {method!r} trains both pretrained Swin '
                         'parameters and new modules: the sweep has one '
                         'multiplier per method')
    return parts.pop() if parts else None


def candidates(method):
    """The lr multipliers (``swin_lr_mult``, ``tuning_lr_mult``) that
    ``method``'s seed 0 starts at, the default first."""
    part = trained_part(method)
    if part is None:
        return [dict(_DEFAULT)]
    key, values = LR_GRID[part]
    return [dict(_DEFAULT, **{key: values[i]}) for i in START]


def describe(method, lr_mults):
    """The multiplier of ``method``'s swept part in words: ``'Swin x0.1'``,
    ``'adapters x5'``, or ``'heads only'`` for the frozen backbone."""
    part = trained_part(method)
    if part is None:
        return 'heads only'
    key = LR_GRID[part][0]
    name = 'Swin' if part == 'swin' else 'adapters'
    return f"{name} x{lr_mults.get(key, 1.0):g}"


def selected_on(record, data, task):
    """Whether ``record`` has a metric on ``task``'s current selection
    split of ``data``."""
    return (record is not None and 'select_metrics' in record and
            record_selection_data(record) == selection_data(data, task))


def sweep(task, method, iters, data, pretrain, records, widen=True):
    """``method``'s sweep on ``task``: ``dict(candidates=[(lr_mults,
    seed-0 record or None)], selected=lr_mults or None, complete=bool,
    at_grid_end=bool)``. The candidates are the start pair, widened by one
    step past each winning end (see the module) unless not ``widen`` (the
    quick mode); the selection is over the recorded candidates with a
    selection metric, complete when every candidate has one and the best
    is no end that can still be widened."""
    metric = next(iter(TASKS[task]['metrics']))

    def found(mults):
        return mults, records.get(settings_hash(run_settings(
            task, method, SWEEP_SEED, iters, data, pretrain, mults)))

    if method in LR_FROM:
        lead = sweep(task, LR_FROM[method], iters, data, pretrain, records,
                     widen)
        if not lead['complete']:
            return dict(candidates=[], selected=None, complete=False,
                        at_grid_end=False)
        return dict(lead, candidates=[found(lead['selected'])])
    part = trained_part(method)
    if part is None:  # nothing to sweep
        only = [found(dict(_DEFAULT))]
        return dict(candidates=only, selected=only[0][0], complete=True,
                    at_grid_end=False)
    key, values = LR_GRID[part]
    low, high = START
    while True:
        state = [found(dict(_DEFAULT, **{key: v}))
                 for v in values[low:high + 1]]
        scores = [r['select_metrics'][metric] if selected_on(r, data, task)
                  else None for _, r in state]
        measured = [i for i, score in enumerate(scores) if score is not None]
        best = max(measured, key=lambda i: scores[i], default=None)
        selected = None if best is None else state[best][0]
        if len(measured) < len(state):
            return dict(candidates=state, selected=selected, complete=False,
                        at_grid_end=False)
        # a tie widens nothing
        alone = widen and scores.count(scores[best]) == 1
        if alone and best == 0 and low > 0:
            low -= 1
        elif alone and best == len(state) - 1 and high < len(values) - 1:
            high += 1
        else:
            return dict(candidates=state, selected=selected, complete=True,
                        at_grid_end=low + best in (0, len(values) - 1))


def plan(tasks, seeds, iters, data, pretrain, records, widen=True):
    """``(todo, waiting)``: the settings of the runs not in ``records``,
    seed-major (seed 0 at every candidate so far, the other seeds at the
    selected multiplier), and the ``(task, method, seed)`` held back until
    their sweep is complete. ``seeds``: method -> seeds."""
    todo, waiting = [], []
    for task in tasks:
        for seed in sorted(set().union(*seeds.values())):
            for method in (m for m in seeds if seed in seeds[m]):
                state = sweep(task, method, iters[task], data, pretrain,
                              records, widen)
                if seed == SWEEP_SEED and method not in LR_FROM:
                    chosen = [mults for mults, _ in state['candidates']]
                else:
                    if not state['complete']:
                        waiting.append((task, method, seed))
                        continue
                    chosen = [state['selected']]
                todo += [s for s in (
                    run_settings(task, method, seed, iters[task], data,
                                 pretrain, mults) for mults in chosen)
                    if settings_hash(s) not in records]
    return todo, waiting


def needs_selection(tasks, methods, iters, data, pretrain, records):
    """The seed-0 records of the swept candidates of ``methods`` on
    ``tasks`` so far that lack a metric on their task's current selection
    split (made before it existed or on another one)."""
    return [r for task in tasks for method in methods
            for _, r in sweep(task, method, iters[task], data, pretrain,
                              records)['candidates']
            if r is not None and not selected_on(r, data, task) and
            len(candidates(method)) > 1]


def table_records(iters, data, pretrain, records, widen=True):
    """``(records, sweeps)``: the records of each (task, method) at its
    selected multiplier, any seed (hash -> record), and every sweep
    (task -> method -> :func:`sweep`) that has a recorded candidate."""
    table, sweeps = {}, {}
    for task in iters:
        for method in METHODS:
            state = sweep(task, method, iters[task], data, pretrain, records,
                          widen)
            if all(r is None for _, r in state['candidates']):
                continue
            sweeps.setdefault(task, {})[method] = state
            if state['selected'] is None:
                continue
            seeds = {r['seed'] for r in records.values()
                     if r['task'] == task and r['method'] == method}
            for seed in seeds:
                key = settings_hash(run_settings(
                    task, method, seed, iters[task], data, pretrain,
                    state['selected']))
                if key in records:
                    table[key] = records[key]
    return table, sweeps
