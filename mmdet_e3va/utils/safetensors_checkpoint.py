"""Checkpoints in the safetensors format: raw tensors behind a JSON header,
read without unpickling anything. The header's ``__metadata__`` (strings)
carries the checkpoint's ``meta`` and its state-dict metadata (what
``load_state_dict`` hands each module as its local metadata) as JSON."""
import json
from collections import OrderedDict

from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from .atomic_file import atomic_write
from .checkpoint_integrity import CorruptCheckpointError

SAFETENSORS_SUFFIX = '.safetensors'
_META_KEY, _STATE_META_KEY = 'meta', 'state_dict_metadata'


def save_safetensors_checkpoint(path, state_dict, meta,
                                state_dict_metadata=None):
    """Write ``state_dict`` (name -> tensor, stored as they are, on the CPU)
    to ``path`` with ``meta`` and ``state_dict_metadata`` (``{module
    prefix: dict}``), both JSON-serialisable, in the header. The file gets
    the permissions of any new file (safetensors' ``save_file`` would make
    it owner-only), whole or not at all."""
    tensors = {k: v.detach().cpu().contiguous()
               for k, v in state_dict.items()}
    data = save(tensors, metadata={
        _META_KEY: json.dumps(meta),
        _STATE_META_KEY: json.dumps(state_dict_metadata or {})
    })
    atomic_write(path, data)


def load_safetensors_checkpoint(filename, name):
    """Read the safetensors file ``filename`` as mmengine reads a
    checkpoint: ``dict(state_dict=OrderedDict, meta=dict)``, the state
    dict's ``_metadata`` restored from the header. Tensors are read to the
    CPU (``load_state_dict`` copies them to the model's device).

    Raises:
        CorruptCheckpointError: naming ``name``, when the file is not a
            safetensors file, is truncated, or its metadata is not JSON.
    """
    try:
        with safe_open(filename, framework='pt', device='cpu') as file:
            header = file.metadata() or {}
            state_dict = OrderedDict(
                (key, file.get_tensor(key)) for key in file.keys())
        meta = json.loads(header.get(_META_KEY, '{}'))
        metadata = json.loads(header.get(_STATE_META_KEY, '{}'))
    except (SafetensorError, json.JSONDecodeError) as err:
        raise CorruptCheckpointError(
            f'Checkpoint {name} is not a readable safetensors file: '
            f'{err}') from err
    state_dict._metadata = OrderedDict(metadata)
    return dict(state_dict=state_dict, meta=meta)
