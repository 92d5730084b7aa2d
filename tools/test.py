"""Test (and evaluate) a detector or segmentor (MMDetection 3.3 /
MMSegmentation 1.2 ``tools/test.py`` semantics; the config's
``default_scope`` picks which)."""
import argparse

from mmdet_e3va.engine import (add_launch_args, build_runner,
                               load_launch_config)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and eval) a detector or segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        help='detection: dump predictions to a pickle file; segmentation: '
        'the directory to save output predictions')
    parser.add_argument('--show', action='store_true',
                        help='show prediction results')
    parser.add_argument('--show-dir',
                        help='directory where painted images will be saved')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true',
                        help='test time augmentation')
    add_launch_args(parser)
    return parser.parse_args()


def enable_visualization(cfg, args, is_detection):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError('--show/--show-dir need a VisualizationHook in '
                           'default_hooks.visualization')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        if is_detection:
            hook['test_out_dir'] = args.show_dir
        else:
            cfg.visualizer['save_dir'] = args.show_dir


def main():
    args = parse_args()
    cfg = load_launch_config(args)
    is_detection = cfg.get('default_scope') != 'mmseg'
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args, is_detection)
    if args.tta:
        for key in ('tta_model', 'tta_pipeline'):
            if key not in cfg:
                raise RuntimeError(f'--tta needs {key} in the config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.model = dict(**cfg.tta_model, module=cfg.model)
    if args.out is not None and not is_detection:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    runner = build_runner(cfg)
    if args.out is not None and is_detection:
        from mmdet.evaluation import DumpDetResults
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out}: the dump file must be .pkl')
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
