"""What tools/train.py and tools/test.py share: common arguments, the config
from the command line, the resume checkpoint, and the runner. Checks and
hooks come from the config (``runner_type='CheckedRunner'``,
``custom_hooks``), as with MMDetection's and MMSegmentation's own tools."""
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_paths import check_checkpoint_paths
from .crash_safe_checkpoint import find_resume_checkpoint, hook_layout


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
    """``--resume``: ``'auto'`` (the newest intact checkpoint of the work
    dir, if any: :func:`.crash_safe_checkpoint.find_resume_checkpoint`) or
    a checkpoint path becomes ``cfg.load_from`` with ``cfg.resume=True``.
    Without ``randomness.seed`` in the config the run takes the
    checkpoint's seed (mmengine builds the data sampler and workers with
    the seed before it reads the checkpoint)."""
    if resume == 'auto':
        path = find_resume_checkpoint(cfg.work_dir, *hook_layout(cfg))
    elif '://' not in resume and not osp.isfile(osp.expanduser(resume)):
        raise FileNotFoundError(f'--resume: checkpoint {resume} does not '
                                'exist')
    else:
        path = resume
    cfg.resume, cfg.load_from = path is not None, path
    if path is not None and cfg.get('randomness', {}).get('seed') is None:
        check_checkpoint_paths(cfg)
        seed = CheckpointLoader.load_checkpoint(
            path, map_location='cpu')['meta'].get('seed')
        cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)


def build_runner(cfg):
    """The config's runner: ``runner_type`` (the project's configs name
    :class:`CheckedRunner`) or mmengine's ``Runner``, as upstream's tools
    build it."""
    return (RUNNERS.build(cfg) if 'runner_type' in cfg else
            Runner.from_cfg(cfg))
