"""The mini-study's learning-rate protocol: the same small sweep for every
method, selected on a held-out split.

A method that trains part of the backbone runs seed 0 at two multipliers of
the task lr: the pretrained Swin parameters it updates (Full, BitFit,
LN-tune, Partial) at ``swin_lr_mult`` 0.1 or 1, or its new backbone modules
(adapters, LoRA, E3VA's highway and norm deltas) at ``tuning_lr_mult`` 1 or
5; the heads always train at the task lr, and the frozen backbone has
nothing to sweep. Each run is also tested on the selection split
(:func:`~mmdet_e3va.analysis.mini_study.selection_data`), and the
multiplier with the better selection metric (the task's first metric; a tie
keeps the first) is the method's for its other seeds and the table.
"""
import functools
import os.path as osp

from .mini_study import METHODS, ROOT, TASKS, run_settings, settings_hash

SWEEP_SEED = 0
# The multipliers swept for each trained part; the first is the default.
LR_GRID = dict(swin=('swin_lr_mult', (0.1, 1.0)),
               tuning=('tuning_lr_mult', (1.0, 5.0)))
_DEFAULT = {key: values[0] for key, values in LR_GRID.values()}


@functools.lru_cache
def _study_backbone_args():
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
    backbone = TunedSwinTransformer(**_study_backbone_args(),
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
    ``method``'s seed 0 runs at, the default first."""
    part = trained_part(method)
    if part is None:
        return [dict(_DEFAULT)]
    key, values = LR_GRID[part]
    return [dict(_DEFAULT, **{key: value}) for value in values]


def describe(method, lr_mults):
    """The multiplier of ``method``'s swept part in words: ``'Swin x0.1'``,
    ``'adapters x5'``, or ``'heads only'`` for the frozen backbone."""
    part = trained_part(method)
    if part is None:
        return 'heads only'
    key = LR_GRID[part][0]
    name = 'Swin' if part == 'swin' else 'adapters'
    return f"{name} x{lr_mults.get(key, 1.0):g}"


def sweep(task, method, iters, data, pretrain, records):
    """``method``'s sweep on ``task``: ``dict(candidates=[(lr_mults,
    seed-0 record or None)], selected=lr_mults or None, complete=bool)``;
    the selection is over the recorded candidates with a selection metric,
    complete when every candidate has one."""
    metric = next(iter(TASKS[task]['metrics']))
    found = [(mults, records.get(settings_hash(run_settings(
        task, method, SWEEP_SEED, iters, data, pretrain, mults))))
        for mults in candidates(method)]
    measured = [(mults, r) for mults, r in found
                if r is not None and 'select_metrics' in r]
    if len(found) == 1:  # nothing to sweep
        return dict(candidates=found, selected=found[0][0], complete=True)
    selected = max(measured, key=lambda m: m[1]['select_metrics'][metric],
                   default=(None, None))[0]
    return dict(candidates=found, selected=selected,
                complete=len(measured) == len(found))


def plan(tasks, seeds, iters, data, pretrain, records):
    """``(todo, waiting)``: the settings of the runs not in ``records``,
    seed-major (seed 0 at every candidate, the other seeds at the selected
    multiplier), and the ``(task, method, seed)`` held back until their
    sweep is complete. ``seeds``: method -> seeds."""
    todo, waiting = [], []
    for task in tasks:
        for seed in sorted(set().union(*seeds.values())):
            for method in (m for m in seeds if seed in seeds[m]):
                if seed == SWEEP_SEED:
                    chosen = candidates(method)
                else:
                    state = sweep(task, method, iters[task], data, pretrain,
                                  records)
                    if not state['complete']:
                        waiting.append((task, method, seed))
                        continue
                    chosen = [state['selected']]
                todo += [s for s in (
                    run_settings(task, method, seed, iters[task], data,
                                 pretrain, mults) for mults in chosen)
                    if settings_hash(s) not in records]
    return todo, waiting


def needs_selection(iters, data, pretrain, records):
    """The seed-0 records of swept methods that lack a selection metric
    (made before the selection split existed)."""
    return [r for task in iters for method in METHODS
            for _, r in sweep(task, method, iters[task], data, pretrain,
                              records)['candidates']
            if r is not None and 'select_metrics' not in r and
            len(candidates(method)) > 1]


def table_records(iters, data, pretrain, records):
    """``(records, sweeps)``: the records of each (task, method) at its
    selected multiplier, any seed (hash -> record), and every sweep
    (task -> method -> :func:`sweep`) that has a recorded candidate."""
    table, sweeps = {}, {}
    for task in iters:
        for method in METHODS:
            state = sweep(task, method, iters[task], data, pretrain, records)
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
