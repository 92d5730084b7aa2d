"""Run recorded mini-study runs again with the current code: does the same
function still give the same result?

    python tools/analysis/study_rerun.py HASH [HASH ...]
        [--results docs/study/results.json] [--root work_dirs/mini_study]
        --out docs/study/adapter_bank_rerun/results.json

Each HASH is a record of ``--results``; its settings run again exactly
(``tools.study.mini_study.run_one``: train, test, selection split) from the
same pretrained checkpoint, the new record is saved in ``--out`` under the
same hash (a rerun already there is kept, not run again), and a table puts
the recorded and the new metrics side by side.
"""
import argparse
import os.path as osp
import sys

# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from tools.study.mini_study import (ROOT, load_records, prepare_data,  # noqa: E402
                                    prepare_pretrained, run_one, save_record,
                                    selection_data, study_checkpoint_sha1)


def metrics_text(metrics):
    return ', '.join(f'{k} {v:.2f}' for k, v in metrics.items())


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('hashes', nargs='+', metavar='HASH')
    parser.add_argument('--results', default='docs/study/results.json')
    parser.add_argument('--root', default='work_dirs/mini_study')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    records = load_records(osp.join(ROOT, args.results))
    missing = [h for h in args.hashes if h not in records]
    if missing:
        parser.error(f'HASH {missing} not in {args.results}')
    root = osp.abspath(osp.join(ROOT, args.root))
    out = osp.abspath(osp.join(ROOT, args.out))
    done = load_records(out)
    for key in args.hashes:
        if key in done:
            continue
        settings = records[key]['settings']
        prepare_data(osp.join(root, 'data'), settings['data'])
        prepare_data(osp.join(root, 'data', 'select', settings['task']),
                     selection_data(settings['data'], settings['task']))
        prepare_pretrained(root, settings['pretrain'])
        sha1 = study_checkpoint_sha1(root, settings['pretrain'])
        if sha1 != records[key].get('pretrained_sha1'):
            raise SystemExit(f'{key}: recorded from pretrained checkpoint '
                             f"{records[key].get('pretrained_sha1')}, the "
                             f'study now starts from {sha1}')
        print(f"{settings['task']} {settings['method']} seed "
              f"{settings['seed']} ({key}) ...", flush=True)
        save_record(out, run_one(root, settings))
    done = load_records(out)
    print('| hash | task | method | seed | recorded | rerun |\n'
          '|---|---|---|---:|---|---|')
    for key in args.hashes:
        then, now = records[key], done[key]
        print(f"| {key} | {then['task']} | {then['method']} | {then['seed']} "
              f"| {metrics_text(then['metrics'])} "
              f"| {metrics_text(now['metrics'])} |")
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
