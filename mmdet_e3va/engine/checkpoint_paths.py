"""An up-front check that the checkpoints a config points at exist."""
import os.path as osp


def _init_cfg_checkpoints(node, key):
    """``(config key, path)`` of every ``init_cfg`` checkpoint under
    ``node`` (a model config)."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == 'init_cfg':
                for i, init in enumerate(
                        value if isinstance(value, list) else [value]):
                    sub = f'{key}.init_cfg' + (
                        f'.{i}' if isinstance(value, list) else '')
                    if isinstance(init, dict) and init.get('checkpoint'):
                        yield f'{sub}.checkpoint', init['checkpoint']
            else:
                yield from _init_cfg_checkpoints(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _init_cfg_checkpoints(value, f'{key}.{i}')


def check_checkpoint_paths(cfg):
    """Raise ``FileNotFoundError`` naming the config key and path of the
    first local checkpoint (``load_from``, any ``model...init_cfg
    .checkpoint``) that does not exist; URLs are not checked."""
    paths = [('load_from', cfg.get('load_from'))]
    paths += list(_init_cfg_checkpoints(cfg.get('model', {}), 'model'))
    for key, path in paths:
        if (isinstance(path, str) and '://' not in path
                and not osp.isfile(osp.expanduser(path))):
            raise FileNotFoundError(f'{key}: checkpoint {path} does not exist')
