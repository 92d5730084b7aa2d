"""Integrity of checkpoint files: torch's zip format stores a CRC-32 for
every record (the pickle, each tensor storage), checked here before
anything is unpickled."""
import zipfile

ZIP_MAGIC = b'PK\x03\x04'


class CorruptCheckpointError(ValueError):
    """A checkpoint file is damaged (bad record checksum, truncated)."""


def verify_checkpoint_integrity(file, name):
    """Check every record CRC-32 of the torch zip checkpoint ``file`` (a path
    or a seekable binary file object, left at its starting offset); raise
    :class:`CorruptCheckpointError` naming ``name`` on a damaged or truncated
    file. A legacy (pre-zip, torch < 1.6) checkpoint carries no checksums
    and passes unchecked."""
    opened = isinstance(file, (str, bytes)) or hasattr(file, '__fspath__')
    handle = open(file, 'rb') if opened else file
    start = handle.tell()
    try:
        if handle.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            return
        handle.seek(start)
        try:
            with zipfile.ZipFile(handle) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
            raise CorruptCheckpointError(
                f'Checkpoint {name} is damaged or truncated (unreadable zip '
                f'structure: {err})') from err
        if bad is not None:
            raise CorruptCheckpointError(
                f'Checkpoint {name} is damaged: record {bad} fails its CRC-32 '
                f'check')
    finally:
        handle.seek(start)
        if opened:
            handle.close()
