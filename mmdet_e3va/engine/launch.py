"""What tools/train.py and tools/test.py share: common arguments, the config
from the command line, and the runner."""
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .cpu_distributed import setup_cpu_distributed
from .dataset_paths import check_dataset_paths


def add_launch_args(parser):
    """``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help='the dir to save logs, models '
                        'and evaluation results')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_launch_config(args):
    """Read ``args.config`` and apply ``--cfg-options``, ``--launcher`` and
    ``--work-dir`` (default ``./work_dirs/<config name>``)."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg, loaders):
    """Check the data paths of ``loaders``, set up CPU distributed training
    when needed, and build the (custom or default) runner."""
    check_dataset_paths(cfg, loaders)
    setup_cpu_distributed(cfg, cfg.launcher)
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
