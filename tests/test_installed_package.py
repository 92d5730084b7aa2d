"""The installed package is the product alone: a non-editable ``pip install``
into a fresh virtual environment imports from another folder, builds a
project config and trains a step; the package imports no study, plotting or
POSIX-only module and never locates the repository."""
import ast
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from conftest import ROOT, SEG_DEMO

PACKAGE = ROOT / 'mmdet_e3va'
FORBIDDEN_IMPORTS = {'matplotlib', 'fcntl', 'tools'}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split('.')[0]


def test_package_imports_no_study_plotting_or_posix_only_module():
    for path in PACKAGE.rglob('*.py'):
        tree = ast.parse(path.read_text())
        assert not set(_imports(tree)) & FORBIDDEN_IMPORTS, path
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert '__file__' not in names, f'{path} locates files via __file__'


TRAIN_ONE_STEP = r'''
import sys
import mmdet_e3va
from mmengine.config import Config
from mmengine.registry import RUNNERS
assert mmdet_e3va.__file__.startswith(sys.prefix), mmdet_e3va.__file__
cfg = Config.fromfile(sys.argv[1])
cfg.work_dir = 'work_dir'
cfg.train_cfg.max_iters = 1
cfg.train_cfg.val_interval = 10
cfg.train_dataloader.batch_size = 2
cfg.train_dataloader.num_workers = 0
cfg.train_dataloader.persistent_workers = False
cfg.default_hooks.checkpoint.interval = 1
runner = RUNNERS.build(cfg)  # as MMSegmentation's tools/train.py does
assert type(runner).__name__ == 'CheckedRunner', type(runner)
runner.train()
print('TRAINED', mmdet_e3va.__file__)
'''


def test_non_editable_install_trains_from_another_folder(tmp_path, workspace):
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    python = venv / 'bin' / 'python'
    # The dependencies (torch, mmcv with its compiled ops, ...) come from the
    # test environment, read-only; the package itself is installed anew.
    site = subprocess.check_output(
        [str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()'
         '["purelib"])'], text=True).strip()
    deps = sysconfig.get_paths()['purelib']
    Path(site, 'test_dependencies.pth').write_text(deps + '\n')
    source = tmp_path / 'source'
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        '.venv', '.git', 'work_dirs', 'data', 'docs', '*.egg-info',
        '__pycache__', 'build'))
    subprocess.run([str(python), '-m', 'pip', 'install', '--no-deps',
                    '--no-build-isolation', '--no-index', '-q',
                    str(source)], check=True, cwd=tmp_path)
    shutil.rmtree(source)
    user = tmp_path / 'user'
    shutil.copytree(workspace / 'data', user / 'data')
    shutil.copytree(ROOT / 'configs', user / 'configs')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    result = subprocess.run(
        [str(python), '-c', TRAIN_ONE_STEP,
         str(user / 'configs' / SEG_DEMO.relative_to(ROOT / 'configs'))],
        cwd=user, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f'TRAINED {venv}' in result.stdout
