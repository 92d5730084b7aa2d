"""Does the installed mmcv have the compiled ops this machine needs?

A CPU-only build of mmcv's ops imports fine on a CUDA machine and fails only
at the first RoIAlign or NMS on a GPU tensor. :func:`check_mmcv_ops` decides
from the facts alone (so its logic is testable without a GPU);
:func:`gather_facts` reads them from torch and mmcv. ``tools/setup_env.sh``
runs this file as a script (it imports nothing of ``mmdet_e3va``, which may
not be installed yet): exit 0 when the ops fit, 1 with the fix otherwise.
"""
import os
import shutil
import sys


class MMCVOpsError(RuntimeError):
    """mmcv's compiled ops do not fit the installed torch or machine."""


def _major(version):
    return version.split('.')[0]


def cuda_build_hint(torch_cuda_version):
    """How to get mmcv 2.1.0 ops built for ``torch_cuda_version``."""
    return (
        'Rebuild mmcv with the CUDA toolkit of the same major version as '
        f'torch\'s CUDA {torch_cuda_version} (nvcc on PATH or CUDA_HOME set): '
        'pip uninstall -y mmcv; MMCV_WITH_OPS=1 FORCE_CUDA=1 pip install '
        '--no-cache-dir --no-build-isolation mmcv==2.1.0 (bash '
        'tools/setup_env.sh does this), or install a prebuilt mmcv 2.1.0 '
        'wheel built for exactly this torch and CUDA version (OpenMMLab '
        'publishes them for torch up to 2.1 at https://download.openmmlab'
        '.com/mmcv/dist/cu<XY>/torch<A.B>/index.html).')


def check_mmcv_ops(mmcv_version, ops_error, ops_cuda_version, torch_version,
                   torch_cuda_version, cuda_available, nvidia_gpu_present):
    """Check mmcv's compiled ops against torch and the machine.

    Args:
        mmcv_version (str | None): ``mmcv.__version__``; None when mmcv is
            not installed.
        ops_error (str | None): The error importing ``mmcv.ops.RoIAlign``
            and ``nms`` raised, None when they import.
        ops_cuda_version (str | None): The CUDA version mmcv's ops were
            compiled with (``mmcv.ops.get_compiling_cuda_version()``), None
            for a CPU-only build.
        torch_version (str): ``torch.__version__``.
        torch_cuda_version (str | None): ``torch.version.cuda``; None for a
            CPU build of torch.
        cuda_available (bool): ``torch.cuda.is_available()``.
        nvidia_gpu_present (bool): An NVIDIA driver is visible
            (``nvidia-smi`` or ``/dev/nvidia0``).

    Returns:
        list[str]: Warnings (a CPU build of torch on a machine with a GPU).

    Raises:
        MMCVOpsError: mmcv is missing, has no compiled ops, or CUDA is
            available but the ops were built without CUDA or for another
            CUDA major version than torch's.
    """
    if mmcv_version is None:
        raise MMCVOpsError('mmcv is not installed (run bash '
                           'tools/setup_env.sh)')
    if ops_error is not None:
        raise MMCVOpsError(
            f'mmcv {mmcv_version} has no compiled ops ({ops_error}): it is '
            'mmcv-lite or was built without MMCV_WITH_OPS=1. Build it with '
            'MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0 '
            '(bash tools/setup_env.sh does this).')
    if cuda_available:
        if ops_cuda_version is None:
            raise MMCVOpsError(
                f'CUDA is available (torch {torch_version}, CUDA '
                f'{torch_cuda_version}) but mmcv {mmcv_version} was built '
                'without CUDA: its ops (RoIAlign, NMS, ...) would fail on the '
                'first GPU tensor. ' + cuda_build_hint(torch_cuda_version))
        if _major(ops_cuda_version) != _major(torch_cuda_version):
            raise MMCVOpsError(
                f'mmcv {mmcv_version} ops were built with CUDA '
                f'{ops_cuda_version}, torch {torch_version} with CUDA '
                f'{torch_cuda_version}. ' +
                cuda_build_hint(torch_cuda_version))
        return []
    if nvidia_gpu_present and torch_cuda_version is None:
        return [f'torch {torch_version} is a CPU build but this machine has '
                'an NVIDIA GPU: everything runs on the CPU. For the GPU, '
                'install a CUDA build of torch in the environment (see '
                'docs/installation.md, "GPU machines") and run bash '
                'tools/setup_env.sh again.']
    return []


def gather_facts():
    """The arguments of :func:`check_mmcv_ops` on this machine."""
    import torch
    facts = dict(
        mmcv_version=None,
        ops_error=None,
        ops_cuda_version=None,
        torch_version=torch.__version__,
        torch_cuda_version=torch.version.cuda,
        cuda_available=torch.cuda.is_available(),
        nvidia_gpu_present=bool(
            shutil.which('nvidia-smi') or os.path.exists('/dev/nvidia0')))
    try:
        import mmcv
    except ImportError:
        return facts
    facts['mmcv_version'] = mmcv.__version__
    try:
        from mmcv.ops import RoIAlign, get_compiling_cuda_version, nms  # noqa
    except (ImportError, OSError) as error:
        facts['ops_error'] = f'{type(error).__name__}: {error}'
        return facts
    cuda = get_compiling_cuda_version()
    facts['ops_cuda_version'] = None if cuda == 'not available' else cuda
    return facts


def main():
    facts = gather_facts()
    try:
        warnings = check_mmcv_ops(**facts)
    except MMCVOpsError as error:
        print(f'[setup] ERROR: {error}', file=sys.stderr)
        return 1
    for warning in warnings:
        print(f'[setup] WARNING: {warning}', file=sys.stderr)
    ops = facts['ops_cuda_version']
    print(f'[setup] mmcv {facts["mmcv_version"]} ops: '
          f'{"CUDA " + ops if ops else "CPU only"}; torch '
          f'{facts["torch_version"]}, CUDA available: '
          f'{facts["cuda_available"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
