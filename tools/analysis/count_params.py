"""Print the trainable/total parameter split (backbone, neck, head) of a
config's model, without training or downloading weights.

    python tools/analysis/count_params.py CONFIG [--methods E3VA LoRA ...]

With ``--methods`` (backbone ``TunedSwinTransformer``), prints one markdown
row per tuning method instead.
"""
import argparse

from mmengine.config import DictAction

from mmdet_e3va.analysis import build_model, load_config, tuning_name
from mmdet_e3va.utils import format_report, parameter_report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--methods', nargs='+', help='tuning methods')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if not args.methods:
        cfg = load_config(args.config, args.cfg_options)
        print(f'{args.config} ({tuning_name(cfg)})')
        print(format_report(parameter_report(build_model(cfg))))
        return
    print('| method | backbone trainable | backbone share | all trainable |')
    print('|---|---:|---:|---:|')
    for method in args.methods:
        cfg = load_config(args.config, args.cfg_options, method)
        counts = parameter_report(build_model(cfg))
        backbone = counts['backbone']
        print(f'| {method} | {backbone["trainable"] / 1e6:.2f} M | '
              f'{100 * backbone["trainable_share"]:.2f}% | '
              f'{counts["all"]["trainable"] / 1e6:.2f} M |')


if __name__ == '__main__':
    main()
