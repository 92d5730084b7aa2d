"""The paper's table at CPU scale: every tuning method's accuracy next to its
training memory and time, on Cascade Mask R-CNN (COCO format), UperNet
(ADE20K format) and RetinaNet (VOC format) with a small Swin pretrained on
source scenes and fine-tuned on different target scenes.

Each run goes through the real ``tools/train.py`` and ``tools/test.py``.
Every method that trains part of the backbone first runs seed 0 at two lr
multipliers, selected on a held-out split; its other seeds run at the
selected one (``tools.study.mini_study_lr_sweep``).
Resumable: each finished run is appended to the results JSON (keyed by a
hash of its settings), recorded runs are skipped, and an interrupted run
restarts from scratch. A record counts only for the pretrained checkpoint it
started from: runs from another one (or from one they did not record) are
run again, keeping what they replace, so the table comes from one
checkpoint. Outputs (next to the results JSON): ``table.md``,
``summary.json``, ``accuracy_vs_memory.png``, ``memory_time.png``, and
with E3VAPlus runs ``ablation.md`` and ``ablation.png``.

    python tools/analysis/mini_study.py                  # everything
    python tools/analysis/mini_study.py --task seg --methods Full Frozen
    python tools/analysis/mini_study.py --quick          # smoke test
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from tools.study.mini_study import (DATA, METHODS, PAPER_METHODS,
                                            NOMINAL_S_PER_ITER, PRETRAIN,
                                            PROTOCOL, QUICK, ROOT, TASKS,
                                            load_records, of_checkpoint,
                                            prepare_data, prepare_pretrained,
                                            remeasure_selection, replaced,
                                            run_one, save_record,
                                            selection_data, set_threads,
                                            settings_hash,
                                            study_checkpoint_sha1,
                                            task_settings_line)
from tools.study import mini_study_calibration as calibration
from tools.study import mini_study_lr_sweep as lr_sweep
from tools.study.mini_study_ablation import (ablation_markdown,
                                                     plot_ablation)
from tools.study.mini_study_report import (aggregate, markdown,
                                                   plot_accuracy_vs_memory,
                                                   plot_memory_time,
                                                   write_summary)
from mmdet_e3va.utils import int_at_least

# Seeds per method unless --seeds: three for the methods the issue names,
# one for the others.
DEFAULT_SEEDS = {m: (0, 1, 2) for m in ('Full', 'Frozen', 'LoRA', 'E3VA')}


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--task', nargs='+', choices=list(TASKS),
                        help='tasks to run (default: all, seg first)')
    parser.add_argument('--methods', nargs='+', choices=list(METHODS),
                        help='methods to run (default: all)')
    parser.add_argument('--seeds', nargs='+', type=int,
                        help='seeds for every method (default: 0 1 2 for '
                        'Full, Frozen, LoRA and E3VA, 0 for the others)')
    parser.add_argument('--iters', type=int_at_least(1),
                        help='training iterations (default: per task)')
    parser.add_argument('--results', default='docs/study/results.json',
                        help='results JSON (records), relative to the repo')
    parser.add_argument('--root', default='work_dirs/mini_study',
                        help='study root: data/ and runs/')
    parser.add_argument('--quick', action='store_true',
                        help=f"{', '.join(QUICK['methods'])}, "
                        f"{QUICK['iters']} iterations, a small data set, the "
                        'lr sweep at its start pair, a temporary root and '
                        'results file (unless given)')
    parser.add_argument('--threads', type=int,
                        help='OpenMP/torch threads of each run (default: '
                        'torch\'s); 1 is much faster on a shared machine')
    parser.add_argument('--curve', type=int_at_least(1), metavar='N',
                        help='calibration: validate every N iterations and '
                        'record the learning curve (calibration.md and '
                        'calibration_<task>.png; kept out of the table)')
    parser.add_argument('--report-only', action='store_true',
                        help='only rebuild the table and plots')
    return parser


def main():
    parser = build_parser()
    args = parser.parse_args()
    data, pretrain = DATA, PRETRAIN
    if args.threads:
        set_threads(args.threads)
    tasks = args.task or list(TASKS)
    methods = args.methods or list(PAPER_METHODS)
    if args.quick:
        data, pretrain = QUICK['data'], QUICK['pretrain']
        methods = args.methods or list(QUICK['methods'])
        tasks = args.task or ['seg']
        if args.root == parser.get_default('root'):
            args.root = tempfile.mkdtemp(prefix='mini_study_quick_')
        if args.results == parser.get_default('results'):
            args.results = osp.join(args.root, 'results.json')
    root = osp.abspath(osp.join(ROOT, args.root))
    results = osp.abspath(osp.join(ROOT, args.results))
    out_dir = osp.dirname(results)
    iters = {t: args.iters or (QUICK['iters'] if args.quick
                               else TASKS[t]['iters']) for t in TASKS}

    seeds = {m: args.seeds or (QUICK['seeds'] if args.quick else
                               DEFAULT_SEEDS.get(m, (0, )))
             for m in methods}

    def current(records):
        return of_checkpoint(records, study_checkpoint_sha1(root, pretrain))

    def plan(records):
        todo, waiting = lr_sweep.plan(tasks, seeds, iters, data, pretrain,
                                      current(records),
                                      widen=not args.quick)
        return [dict(s, curve=args.curve) if args.curve else s
                for s in todo], waiting

    def stale(records):
        return lr_sweep.needs_selection(tasks, methods, iters, data,
                                        pretrain, current(records))

    records = load_records(results)
    todo, waiting = plan(records)
    print(f'mini-study: {len(todo)} runs to run now, {len(waiting)} waiting '
          f'for their lr sweep, {len(stale(records))} recorded runs to test '
          f'on the current selection split; records in {args.results}; '
          f'root {root}')
    again = sum(settings_hash(s) in records for s in todo)
    if again:
        print(f'{again} of the runs to run now are recorded from another '
              'pretrained checkpoint (or one not recorded): they run again')
    print(f'protocol: {PROTOCOL}')
    for t in tasks:
        print(f"  {task_settings_line(t, iters[t])}; {TASKS[t]['config']}")
    sys.stdout.flush()
    if not args.report_only:
        unmeasured = stale(records)
        if todo or unmeasured:
            os.makedirs(root, exist_ok=True)
            prepare_data(osp.join(root, 'data'), data)
            for t in tasks:
                prepare_data(osp.join(root, 'data', 'select', t),
                             selection_data(data, t))
            prepare_pretrained(root, pretrain)
        run_all(root, results, plan, stale)
    records = load_records(results)
    mine = current(records)
    table, sweeps = lr_sweep.table_records(iters, data, pretrain, mine,
                                           widen=not args.quick)
    print(f'{len(records) - len(mine)} records of other pretrained '
          f'checkpoints and {len(mine) - len(table)} of other settings or lr '
          'multipliers left out of the table')
    report(table, sweeps, out_dir, iters)
    report_calibration(records, out_dir)


def report_calibration(records, out_dir):
    records = calibration.curve_records(records)
    if not records:
        return
    table = calibration.markdown(records)
    with open(osp.join(out_dir, 'calibration.md'), 'w') as f:
        f.write(table)
    paths = calibration.plot(records, out_dir)
    print(table)
    print(f"calibration written to {out_dir}/calibration.md, "
          f"{', '.join(osp.basename(p) for p in paths)}")


def run_all(root, results, plan, stale):
    """Run what ``plan(records)`` returns, one run at a time, planning
    again after each (a finished sweep releases its method's other seeds;
    another process may have recorded runs). Before each, the first of
    ``stale(records)`` (sweep candidates without a metric on the current
    selection split) gets one (:func:`remeasure_selection`)."""
    spent = {}  # task -> seconds per iteration measured this session
    start = time.time()
    i = 0
    while True:
        records = load_records(results)
        unmeasured = stale(records)
        if unmeasured:
            record = unmeasured[0]
            print(f"selection split: {record['task']} {record['method']} "
                  f"seed {record['seed']} ({record['work_dir']}) ...",
                  flush=True)
            record = remeasure_selection(root, record)
            save_record(results, record)
            print(f"selection split: {record['task']} {record['method']} "
                  f"{lr_sweep.describe(record['method'], record['settings'])}"
                  f": {_metrics_line(record)}", flush=True)
            continue
        todo, _ = plan(records)
        if not todo:
            return
        settings, i = todo[0], i + 1
        task, total = settings['task'], i + len(todo) - 1
        name = (f"{task} {settings['method']} seed {settings['seed']} "
                f"({lr_sweep.describe(settings['method'], settings)})")
        print(f"[{i}/{total}] {name}, {settings['iters']} it ...",
              flush=True)
        t0 = time.time()
        record = run_one(root, settings)
        earlier = records.get(record['hash'])
        if earlier:  # a run from another pretrained checkpoint
            record['rerun_of'] = replaced(earlier)
        save_record(results, record)
        took = time.time() - t0
        spent.setdefault(task, []).append(took / settings['iters'])
        left = sum(
            s['iters'] * (sum(spent[s['task']]) / len(spent[s['task']])
                          if s['task'] in spent else
                          NOMINAL_S_PER_ITER[s['task']] * 1.3)
            for s in todo[1:])
        eta = time.strftime('%H:%M UTC', time.gmtime(time.time() + left))
        print(f'[{i}/{total}] {name}: {_metrics_line(record)}; '
              f"memory {record['memory_mb']:.0f} MB, "
              f"{record['step_time_s']:.3f} s/step; {took / 60:.1f} min; "
              f'elapsed {(time.time() - start) / 60:.0f} min, ETA {eta} '
              f'({left / 60:.0f} min left, the planned runs)', flush=True)


def _metrics_line(record):
    """``'mIoU 61.2 (selection split: mIoU 60.3)'``."""
    def text(metrics):
        return ', '.join(f'{k} {v:.1f}' for k, v in metrics.items())
    return (f"{text(record['metrics'])} (selection split: "
            f"{text(record['select_metrics'])})")


def report(records, sweeps, out_dir, iters):
    summary = aggregate(records, list(METHODS))
    if not summary:
        print('no records yet: nothing to report')
        return
    os.makedirs(out_dir, exist_ok=True)
    table = markdown(summary, list(METHODS), iters, sweeps)
    with open(osp.join(out_dir, 'table.md'), 'w') as f:
        f.write(table)
    write_summary(osp.join(out_dir, 'summary.json'), summary, sweeps,
                  records, iters)
    plot_accuracy_vs_memory(summary,
                            osp.join(out_dir, 'accuracy_vs_memory.png'))
    plot_memory_time(summary, osp.join(out_dir, 'memory_time.png'))
    print(table)
    print(f'table, summary and plots written to {out_dir}/')
    ablation = ablation_markdown(summary)
    if ablation:
        with open(osp.join(out_dir, 'ablation.md'), 'w') as f:
            f.write(ablation)
        plot_ablation(summary, osp.join(out_dir, 'ablation.png'))
        print(ablation)
        print(f'E3VA+ ablation written to {out_dir}/ablation.md, '
              'ablation.png')


if __name__ == '__main__':
    main()
