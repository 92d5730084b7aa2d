"""Distributed launch on CPU-only torch (gloo), which mmengine 0.10.7's
``init_dist`` (``torch.cuda.set_device``) and DDP wrapping (GPU
``device_ids``) do not support."""
import os
import subprocess

import torch
import torch.distributed as dist
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that, when the module lives on the CPU,
    drops ``device_ids`` (DDP accepts only ``None`` there) and turns SyncBN
    layers, which need CUDA, into plain BN (statistics per process)."""

    def __init__(self, module, device_ids=None, **kwargs):
        if next(module.parameters()).device.type == 'cpu':
            device_ids = None
            if any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in module.modules()):
                print_log('CPU distributed run: SyncBN layers switched to BN',
                          logger='current')
                module = revert_sync_batchnorm(module)
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def _export_slurm_env():
    """Map Slurm's task variables to torch.distributed's, as mmengine's
    slurm launcher does."""
    os.environ.setdefault('MASTER_PORT', os.environ.get('PORT', '29500'))
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ['SLURM_LOCALID']


def setup_cpu_distributed(cfg, launcher):
    """Start a gloo process group for ``launcher`` when torch has no CUDA
    and point ``cfg.model_wrapper_cfg`` at a CPU-capable DDP wrapper.

    Does nothing for ``launcher='none'`` or when CUDA is available (then
    mmengine's own path runs). The Runner skips ``init_dist`` once a
    process group exists.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher == 'slurm':
        _export_slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} is not supported on CPU; '
                         f'use pytorch (torchrun) or slurm')
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    if wrapper_cfg.get('type', 'MMDistributedDataParallel') not in (
            'MMDistributedDataParallel', 'DeviceAwareDistributedDataParallel'):
        raise ValueError(f'model_wrapper_cfg.type={wrapper_cfg["type"]} '
                         f'cannot run on CPU')
    wrapper_cfg['type'] = 'DeviceAwareDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper_cfg
