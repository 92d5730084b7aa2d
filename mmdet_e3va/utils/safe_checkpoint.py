"""Checkpoint loading that is ``weights_only=True`` on every route.

mmengine's ``CheckpointLoader`` picks a loader by prefix: local files, and
``http(s)://``, ``torchvision://``/``modelzoo://``, ``open-mmlab://``/
``openmmlab://`` and ``mmcls://`` downloads (upstream through
``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to
False), ``s3://``/``petrel://`` and ``pavi://``. Every one of them is
re-registered here to a loader that checks the file's integrity
(:mod:`.checkpoint_integrity`) and then calls ``torch.load`` with
``weights_only=True`` passed explicitly, so that
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` cannot turn it off. Downloads go to
torch.hub's checkpoint cache (``$TORCH_HOME/hub/checkpoints``), as upstream.

mmengine 0.10.7 pickles a few numpy and mmengine objects into its
checkpoints (message hub history, seeds, dataset meta), which the
weights-only unpickler refuses by default. Only those types are
allowlisted; any other pickled object is refused with
:class:`UnsafeCheckpointError` naming the file and the object.

``HistoryBuffer.__getstate__`` also pickles its statistics functions, which
would need ``getattr`` allowlisted (unsafe: it reaches any attribute). They
are class-level and restored by ``__setstate__`` anyway, so they are left out
of the pickled state; checkpoints written before that stay refused.
"""
import hashlib
import io
import os
import os.path as osp
import pickle
import re
from tempfile import TemporaryDirectory
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_integrity import (CorruptCheckpointError,
                                   verify_checkpoint_integrity)
from .safetensors_checkpoint import (SAFETENSORS_SUFFIX,
                                     load_safetensors_checkpoint)


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside the allowlist."""


# torch's weights-only unpickler refusing a pickled global (torch re-wraps
# every weights-only UnpicklingError, damaged data included, with "Weights
# only load failed"; only these wordings name a refused object).
REFUSED_GLOBAL = re.compile(
    r'GLOBAL (\S+) (?:was not an allowed global|whose module \S+ is blocked)')


def mmengine_checkpoint_globals():
    """The numpy/mmengine types mmengine writes into checkpoints."""
    dtypes = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
              np.uint16, np.uint32, np.uint64, np.float16, np.float32,
              np.float64)
    return [
        np.core.multiarray._reconstruct, np.core.multiarray.scalar,
        np.ndarray, np.dtype, HistoryBuffer,
        *(type(np.dtype(t)) for t in dtypes)
    ]


def _history_buffer_state(self):
    """``HistoryBuffer`` state without its (class-level) statistics."""
    return {k: v for k, v in self.__dict__.items()
            if k != 'statistics_methods'}


def safe_torch_load(file, name, map_location=None):
    """Verify and load ``file`` (a path or binary file object) with
    ``weights_only=True``; errors name ``name``. A ``.safetensors`` path
    is read by safetensors instead (no pickle at all).

    Raises:
        UnsafeCheckpointError: a pickled object outside the allowlist (the
            message names it, e.g. ``posix.system``).
        CorruptCheckpointError: a damaged or truncated file.
    """
    if isinstance(file, str) and file.endswith(SAFETENSORS_SUFFIX):
        return load_safetensors_checkpoint(file, name)
    verify_checkpoint_integrity(file, name)
    try:
        return torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        message = str(err)
        refused = REFUSED_GLOBAL.search(message)
        if refused is None:  # damaged pickle data
            detail = (message.split('WeightsUnpickler error:')[-1].strip()
                      .partition('\n')[0])
            raise CorruptCheckpointError(
                f'Checkpoint {name} is damaged: {detail}') from err
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {name}: it holds a pickled object '
            f'({refused.group(1)}) outside the weights-only allowlist of '
            f'mmdet_e3va.utils.safe_checkpoint') from err
    except EOFError as err:
        raise CorruptCheckpointError(
            f'Checkpoint {name} is truncated: {err}') from err
    except RuntimeError as err:  # e.g. a damaged legacy (pre-zip) file
        raise RuntimeError(f'Cannot load checkpoint {name}: {err}') from err


def load_from_local(filename, map_location=None):
    """A local checkpoint file."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, filename, map_location)


def check_hash_prefix(path, name):
    """torch.hub's ``check_hash=True``: when the file name carries a sha256
    prefix (torch.hub's ``name-<prefix>.ext``), the file's sha256 must start
    with it; else raise :class:`CorruptCheckpointError` naming ``name``."""
    found = torch.hub.HASH_REGEX.search(osp.basename(path))
    if found is None:
        return
    sha256 = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            sha256.update(chunk)
    prefix, digest = found.group(1), sha256.hexdigest()
    if not digest.startswith(prefix):
        raise CorruptCheckpointError(
            f'Checkpoint {name} fails its hash check: its name carries the '
            f'sha256 prefix {prefix}, its content hashes to {digest}')


def download_checkpoint(url):
    """Download ``url`` into torch.hub's checkpoint cache, once; return
    the cached file, checked with :func:`check_hash_prefix` (before it
    enters the cache when downloaded now)."""
    model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if osp.exists(cached):
        check_hash_prefix(cached, f'{cached} (cached download of {url}; '
                          'delete it to download it again)')
        return cached
    with TemporaryDirectory(dir=model_dir) as tmp_dir:
        download = osp.join(tmp_dir, osp.basename(cached))
        torch.hub.download_url_to_file(url, download, progress=False)
        check_hash_prefix(download, f'{url} (downloaded)')
        os.replace(download, cached)
    return cached


def load_from_http(url, map_location=None):
    """An ``http(s)://`` checkpoint, downloaded by (global) rank 0 first."""
    rank, world_size = get_dist_info()
    if rank == 0:
        cached = download_checkpoint(url)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = download_checkpoint(url)
    return safe_torch_load(cached, f'{cached} (downloaded from {url})',
                           map_location)


def load_from_torchvision(filename, map_location=None):
    """``torchvision://name`` (or the deprecated ``modelzoo://name``)."""
    name = filename.split('://', 1)[1]
    return load_from_http(mmengine_checkpoint.get_torchvision_models()[name],
                          map_location)


def load_from_openmmlab(filename, map_location=None):
    """``open-mmlab://name``/``openmmlab://name``: a URL of mmengine's model
    list, or a file under ``$MMENGINE_HOME``."""
    name = filename.split('://', 1)[1]
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    url = mmengine_checkpoint.get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location)
    return load_from_local(
        osp.join(mmengine_checkpoint._get_mmengine_home(), url), map_location)


def load_from_mmcls(filename, map_location=None):
    """``mmcls://name``: the backbone of an mmcls model-zoo checkpoint."""
    url = mmengine_checkpoint.get_mmcls_models()[filename[len('mmcls://'):]]
    return mmengine_checkpoint._process_mmcls_checkpoint(
        load_from_http(url, map_location))


def load_from_ceph(filename, map_location=None):
    """``s3://``/``petrel://`` through mmengine's petrel file backend."""
    backend = get_file_backend(filename, backend_args=dict(backend='petrel'))
    with io.BytesIO(backend.get(filename)) as buffer:
        return safe_torch_load(buffer, filename, map_location)


def load_from_pavi(filename, map_location=None):
    """``pavi://`` model-cloud checkpoints."""
    from pavi import modelcloud
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp_dir:
        path = osp.join(tmp_dir, model.name)
        model.download(path)
        return safe_torch_load(path, filename, map_location)


SAFE_LOADERS = {
    '': load_from_local,
    ('http://', 'https://'): load_from_http,
    ('modelzoo://', 'torchvision://'): load_from_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_from_openmmlab,
    'mmcls://': load_from_mmcls,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_ceph,
    'pavi://': load_from_pavi,
}


def install_safe_checkpoint_loading():
    """Allowlist mmengine's checkpoint types for ``torch.load`` and register
    the safe loaders for every prefix mmengine knows."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    HistoryBuffer.__getstate__ = _history_buffer_state
    for prefixes, loader in SAFE_LOADERS.items():
        CheckpointLoader.register_scheme(prefixes, loader=loader, force=True)
    unsafe = sorted(
        prefix for prefix, loader in CheckpointLoader._schemes.items()
        if loader not in SAFE_LOADERS.values())
    if unsafe:  # a prefix this module does not know (newer mmengine)
        raise RuntimeError(
            f'mmdet_e3va.utils.safe_checkpoint: no weights-only loader for '
            f'the checkpoint prefixes {unsafe}')
