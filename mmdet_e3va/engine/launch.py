"""What tools/train.py and tools/test.py share: common arguments, the config
from the command line, the resume checkpoint, and the runner."""
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_paths import check_checkpoint_paths
from .cpu_distributed import setup_cpu_distributed
from .dataset_paths import check_dataset_paths
from .hooks import CheckpointMatchHook, RandomStateHook


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


def set_resume(cfg, resume):
    """``--resume``: ``'auto'`` (the latest checkpoint of the work dir, if
    any) or a checkpoint path becomes ``cfg.load_from`` with
    ``cfg.resume=True``. Without ``randomness.seed`` in the config the run
    takes the checkpoint's seed (mmengine builds the data sampler and
    workers with the seed before it reads the checkpoint)."""
    path = (find_latest_checkpoint(cfg.work_dir) if resume == 'auto' else
            resume)
    cfg.resume, cfg.load_from = path is not None, path
    if path is not None and cfg.get('randomness', {}).get('seed') is None:
        check_checkpoint_paths(cfg)
        seed = CheckpointLoader.load_checkpoint(
            path, map_location='cpu')['meta'].get('seed')
        cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)


def build_runner(cfg, loaders, training=False):
    """Check the data paths of ``loaders`` and the checkpoint paths, set up
    CPU distributed training when needed, and build the (custom or default)
    runner, with a :class:`CheckpointMatchHook` (an upstream ``load_from``
    may lack the tuning modules when ``training``) and, when ``training``,
    a :class:`RandomStateHook`."""
    check_dataset_paths(cfg, loaders)
    check_checkpoint_paths(cfg)
    setup_cpu_distributed(cfg, cfg.launcher)
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg else
              Runner.from_cfg(cfg))
    runner.register_hook(CheckpointMatchHook(allow_fresh_tuning=training))
    if training and not any(
            isinstance(hook, RandomStateHook) for hook in runner.hooks):
        runner.register_hook(RandomStateHook())
    return runner
