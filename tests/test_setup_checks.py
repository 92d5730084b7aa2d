"""The mmcv ops check of tools/setup_env.sh: its decisions for CPU and CUDA
machines (from the facts, no GPU needed), the real facts of this machine,
and the script setup_env.sh runs."""
import re
import subprocess
import sys

import pytest

from mmdet_e3va.utils import mmcv_ops_check
from mmdet_e3va.utils.mmcv_ops_check import (MMCVOpsError, check_mmcv_ops,
                                             gather_facts)

CPU_MACHINE = dict(mmcv_version='2.1.0', ops_error=None,
                   ops_cuda_version=None, torch_version='2.13.0+cpu',
                   torch_cuda_version=None, cuda_available=False,
                   nvidia_gpu_present=False)
CUDA_MACHINE = dict(CPU_MACHINE, ops_cuda_version='12.8',
                    torch_version='2.13.0+cu128', torch_cuda_version='12.8',
                    cuda_available=True, nvidia_gpu_present=True)


@pytest.mark.parametrize('facts', [
    CPU_MACHINE,
    CUDA_MACHINE,
    dict(CUDA_MACHINE, ops_cuda_version='12.4'),  # same major version
    dict(CPU_MACHINE, torch_cuda_version='12.8'),  # CUDA torch, no GPU
    dict(CPU_MACHINE, ops_cuda_version='12.8', torch_cuda_version='12.8'),
], ids=['cpu', 'cuda', 'cuda-minor-differs', 'cuda-torch-no-gpu',
        'cuda-ops-no-gpu'])
def test_fitting_ops_pass(facts):
    assert check_mmcv_ops(**facts) == []


@pytest.mark.parametrize('facts, message', [
    (dict(CUDA_MACHINE, ops_cuda_version=None),
     'was built without CUDA'),
    (dict(CUDA_MACHINE, ops_cuda_version='11.8'),
     'ops were built with CUDA 11.8, torch 2.13.0+cu128 with CUDA 12.8'),
    (dict(CPU_MACHINE, ops_error="ImportError: cannot import name 'RoIAlign'"),
     'has no compiled ops'),
    (dict(CUDA_MACHINE, ops_error='ImportError: libcudart.so.12'),
     'has no compiled ops'),
    (dict(CPU_MACHINE, mmcv_version=None), 'mmcv is not installed'),
], ids=['cpu-ops-on-cuda', 'cuda-major-mismatch', 'no-ops', 'no-ops-cuda',
        'no-mmcv'])
def test_missing_or_wrong_ops_fail_clearly(facts, message):
    with pytest.raises(MMCVOpsError, match=re.escape(message)) as error:
        check_mmcv_ops(**facts)
    if facts['cuda_available'] and facts['ops_error'] is None:
        # The fix: a CUDA build of the ops or a matching prebuilt wheel.
        assert 'FORCE_CUDA=1' in str(error.value)
        assert 'prebuilt mmcv 2.1.0 wheel' in str(error.value)


def test_cpu_torch_on_gpu_machine_warns():
    warnings = check_mmcv_ops(**dict(CPU_MACHINE, nvidia_gpu_present=True))
    assert len(warnings) == 1 and 'CPU build' in warnings[0]


def test_facts_of_this_machine():
    import mmcv
    import torch
    facts = gather_facts()
    assert facts['mmcv_version'] == mmcv.__version__
    assert facts['ops_error'] is None  # setup_env.sh builds the ops
    assert facts['torch_version'] == torch.__version__
    assert facts['cuda_available'] == torch.cuda.is_available()
    if not torch.cuda.is_available():
        check_mmcv_ops(**facts)  # the CPU build of the ops fits


def test_script_as_setup_env_runs_it():
    """setup_env.sh runs the file before mmdet_e3va is installed: it must
    work as a plain script and import nothing of the package."""
    result = subprocess.run(
        [sys.executable, '-X', 'importtime', mmcv_ops_check.__file__],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith('[setup] mmcv ')
    imported = [line.rsplit('|', 1)[-1].strip()
                for line in result.stderr.splitlines()
                if line.startswith('import time:')]
    assert 'mmcv.ops' in imported
    assert not any(name.split('.')[0] == 'mmdet_e3va' for name in imported)
