"""Print the trainable/total parameter split (backbone, neck, head) of
configs' models, without training, allocating weights or downloading them.

    python tools/analysis/count_params.py CONFIG [CONFIG ...] \
        [--methods E3VA LoRA ...] [--json FILE] [--cfg-options k=v ...]

One config: a PEFT-style report per group. Several configs, or
``--methods`` (backbone ``TunedSwinTransformer``; each method with its
defaults replaces the config's tuning): one markdown row per (config,
method), with the backbone's trainable parameters and their share of the
backbone. ``--json`` writes the rows.
"""
import argparse
import json
from pathlib import Path

from mmengine.config import DictAction

import sys
import os.path as osp
# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from tools.benchmark import build_model, load_config
from tools.benchmark.model_configs import tuning_spec
from mmdet_e3va.utils import format_report, parameter_report


def count_rows(configs, methods=None, cfg_options=None):
    """One dict per (config, method): ``config`` (file stem), ``method``
    (tuning with its options), ``counts`` (:func:`parameter_report`)."""
    rows = []
    for config in configs:
        for method in methods or [None]:
            cfg = load_config(str(config), cfg_options, method)
            rows.append(
                dict(config=Path(config).stem, method=tuning_spec(cfg),
                     counts=parameter_report(build_model(cfg, empty_weights=True))))
    return rows


def format_table(rows, with_config):
    head = '| config ' if with_config else ''
    lines = [
        head + '| method | backbone trainable | backbone share | '
        'all trainable |',
        ('|---' if with_config else '') + '|---|---:|---:|---:|'
    ]
    for row in rows:
        backbone, everything = row['counts']['backbone'], row['counts']['all']
        lines.append(
            (f'| {row["config"]} ' if with_config else '') +
            f'| {row["method"]} | {backbone["trainable"] / 1e6:.2f} M | '
            f'{100 * backbone["trainable_share"]:.2f}% | '
            f'{everything["trainable"] / 1e6:.2f} M |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--methods', nargs='+', help='tuning methods')
    parser.add_argument('--json', help='write the rows to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    rows = count_rows(args.configs, args.methods, args.cfg_options)
    if len(rows) == 1 and not args.methods:
        print(f'{args.configs[0]} ({rows[0]["method"]})')
        print(format_report(rows[0]['counts']))
    else:
        print(format_table(rows, with_config=len(args.configs) > 1))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
        print(f'rows written to {args.json}')


if __name__ == '__main__':
    main()
