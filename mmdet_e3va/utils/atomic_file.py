"""Files written whole or not at all: into ``<name>.partial`` beside the
target, flushed and fsynced, renamed over the target, and the folder
fsynced. A kill at any moment leaves the old file or the new one."""
import os
import os.path as osp

PARTIAL_SUFFIX = '.partial'


def atomic_write(path, data):
    """Write the bytes ``data`` to ``path`` whole or not at all."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = path + PARTIAL_SUFFIX
    try:
        with open(partial, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        if osp.exists(partial):
            os.remove(partial)
        raise
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself reaches the disk
    finally:
        os.close(fd)
