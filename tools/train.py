"""Train a detector or segmentor (MMDetection 3.3 / MMSegmentation 1.2
``tools/train.py`` semantics; the config's ``default_scope`` picks which)."""
import argparse

from mmdet_e3va.engine import (add_launch_args, build_runner,
                               load_launch_config)
from mmdet_e3va.engine.launch import set_resume


def parse_args():
    parser = argparse.ArgumentParser(
        description='Train a detector or segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='enable automatically scaling LR')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or, without a value, from '
        'the latest checkpoint in the work directory (model, optimizer, '
        'schedulers and random states)')
    add_launch_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_launch_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr.'
                               'base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume is not None:
        set_resume(cfg, args.resume)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
