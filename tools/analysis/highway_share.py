"""How far training moved E3VA's features: per output stage, the norm of
the highway (what the adapters add) against the frozen stage output, on
the first validation images of each trained run.

A work directory is a training run of an E3VA or E3VAPlus config (its
``config.py`` and the checkpoint named by ``last_checkpoint``), e.g. a
mini-study run; data paths in the config are read relative to ``--root``.

    python tools/analysis/highway_share.py --root work_dirs/mini_study \\
        work_dirs/mini_study/runs/det/E3VA_seed0_<hash> \\
        work_dirs/mini_study/runs/seg/E3VA_seed0_<hash> --out share.json
"""
import argparse
import json
import os
import os.path as osp

from mmengine.runner import Runner, find_latest_checkpoint

import sys
# The repository root, for tools.*
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # noqa: E402
from tools.benchmark.highway_share import highway_share
from tools.benchmark.model_configs import build_model, load_config
from mmdet_e3va.utils import int_at_least
from mmdet_e3va.utils.safe_checkpoint import safe_torch_load


def load_trained(work_dir):
    """The config and the model of ``work_dir`` with its last checkpoint
    (loaded with ``weights_only=True``), in eval mode."""
    config = osp.join(work_dir, 'config.py')
    checkpoint = find_latest_checkpoint(work_dir)
    if not osp.isfile(config) or checkpoint is None:
        raise FileNotFoundError(f'{work_dir}: no config.py or last_checkpoint '
                                '(not a finished training run)')
    if not osp.isabs(checkpoint):
        checkpoint = osp.join(work_dir, osp.basename(checkpoint))
    cfg = load_config(config)
    model = build_model(cfg)
    state = safe_torch_load(checkpoint, checkpoint, map_location='cpu')
    model.load_state_dict(state['state_dict'])
    return cfg, model.eval()


def input_batches(cfg, model, images):
    """Preprocessed batches of the first ``images`` validation images."""
    loader = Runner.build_dataloader(cfg.val_dataloader)
    count = 0
    for batch in loader:
        if count >= images:
            return
        inputs = model.data_preprocessor(batch, False)['inputs']
        inputs = inputs[:images - count]
        count += len(inputs)
        yield inputs


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('work_dirs', nargs='+', help='trained runs')
    parser.add_argument('--root', default='.',
                        help='directory the configs\' data paths are '
                        'relative to (a mini-study root)')
    parser.add_argument('--images', type=int_at_least(1), default=16,
                        help='validation images per run (default 16)')
    parser.add_argument('--out', help='JSON file for the table, keyed by '
                        'each run\'s path relative to --root')
    args = parser.parse_args()
    work_dirs = [osp.abspath(d) for d in args.work_dirs]
    out = osp.abspath(args.out) if args.out else None
    os.chdir(args.root)
    root = os.getcwd()
    results = {}
    print('| run | tuning | stage | \\|h\\| / \\|x\\| | rms h | rms x |')
    print('|---|---|---:|---:|---:|---:|')
    for work_dir in work_dirs:
        cfg, model = load_trained(work_dir)
        tuning = cfg.model.backbone.tuning.type
        shares = highway_share(
            model.backbone, input_batches(cfg, model, args.images))
        results[osp.relpath(work_dir, root)] = dict(tuning=tuning, images=args.images,
                                 stages=shares)
        for stage, s in shares.items():
            print(f'| {osp.basename(work_dir)} | {tuning} | {stage} | '
                  f"{s['share']:.3f} | {s['rms_h']:.3f} | {s['rms_x']:.3f} |")
    if out:
        with open(out, 'w') as f:
            json.dump(results, f, indent=1)
        print(f'written to {out}')


if __name__ == '__main__':
    main()
