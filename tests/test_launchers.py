"""tools/dist_train.sh, dist_test.sh (torchrun) and slurm_train.sh,
slurm_test.sh (a real srun on a local one-node Slurm cluster): 2 CPU
processes (gloo) train the segmentation demo, checkpoint, and test."""
import os
import sys

import pytest

import slurm_cluster
from conftest import SEG_DEMO, free_port, run_tool

SHORT = ('--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=100',
         'default_hooks.checkpoint.interval=2',
         'default_hooks.logger.interval=1')


def launcher_env(**extra):
    return dict(os.environ, PYTHON=sys.executable, PORT=free_port(), **extra)


def assert_two_process_run(out, work_dir):
    assert 'Distributed training: True' in out
    assert 'GPU number: 2' in out  # the world size, in mmengine's words
    assert 'SyncBN layers switched to BN' in out
    assert 'Iter(train) [2/2]' in out
    assert (work_dir / 'iter_2.pth').is_file()


def test_dist_train_and_test_with_torchrun(workspace, tmp_path):
    work = tmp_path / 'dist'
    out = run_tool('dist_train.sh', SEG_DEMO, 2, '--work-dir', work, *SHORT,
                   cwd=workspace, env=launcher_env(), launcher=['bash'])
    assert_two_process_run(out, work)
    out = run_tool('dist_test.sh', SEG_DEMO, work / 'iter_2.pth', 2,
                   '--work-dir', work / 'test', cwd=workspace,
                   env=launcher_env(), launcher=['bash'])
    assert 'mIoU:' in out


@pytest.fixture(scope='module')
def slurm(tmp_path_factory):
    missing = slurm_cluster.missing_binaries()
    if missing:
        pytest.skip(f'Slurm/munge not installed ({missing}); '
                    f'tools/run_tests.sh installs slurm-wlm and munge')
    env = slurm_cluster.start_cluster(tmp_path_factory.mktemp('slurm'))
    yield env
    slurm_cluster.stop_cluster(env)


def test_slurm_train_and_test_with_srun(workspace, tmp_path, slurm):
    work = tmp_path / 'slurm'
    env = launcher_env(**slurm, GPUS='2', GPUS_PER_NODE='2',
                       CPUS_PER_TASK='1', GRES='')
    out = run_tool('slurm_train.sh', 'test', 'e3va-train', SEG_DEMO, work,
                   *SHORT, cwd=workspace, env=env, launcher=['bash'])
    assert 'Distributed launcher: slurm' in out
    assert_two_process_run(out, work)
    out = run_tool('slurm_test.sh', 'test', 'e3va-test', SEG_DEMO,
                   work / 'iter_2.pth', '--work-dir', work / 'test',
                   cwd=workspace, env=env, launcher=['bash'])
    assert 'mIoU:' in out
