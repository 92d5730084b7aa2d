"""Compact progress lines from an mmengine log, for a terminal that should
not scroll the full log (``tools/demo.sh`` tees the full log to a file).

mmengine's ``LoggerHook`` already logs every ``interval`` iterations with the
loss and ETA; this keeps the iteration, loss and ETA of those lines, and the
metrics of the final val/test line::

    python tools/train.py CFG 2>&1 | tee train.log \
        | python tools/log_progress.py '[demo] det'

Run as a file it imports nothing but the standard library.
"""
import re
import sys

ITER = re.compile(r'(?:Epoch|Iter)\((\w+)\)\s*(?:\[\s*(\d+)\])?\s*'
                  r'\[\s*(\d+)/(\d+)\]\s*(.*)')
ETA = re.compile(r'\beta: ((?:\d+ days?, )?[\d:]+)')
LOSS = re.compile(r'(?:^|\s)loss: (\S+)')


def progress_line(line):
    """``'train 20/300  loss 0.8123  eta 0:04:41'`` for an mmengine
    ``Iter(train) [ 20/300] ...`` log line (``'val 16/16  <metrics>'`` for a
    line without ETA), None for any other line."""
    match = ITER.search(line)
    if match is None:
        return None
    mode, epoch, it, total, rest = match.groups()
    text = f'{mode} {"epoch " + epoch + " " if epoch else ""}{it}/{total}'
    eta = ETA.search(rest)
    if eta is None:
        return f'{text}  {rest.strip()}'
    loss = LOSS.search(rest)
    if loss is not None:
        text += f'  loss {loss.group(1)}'
    return f'{text}  eta {eta.group(1)}'


def main(prefix=''):
    """Read a log on stdin, print :func:`progress_line` of each line."""
    for line in sys.stdin:
        progress = progress_line(line)
        if progress is not None:
            print(f'{prefix} {progress}'.strip(), flush=True)


if __name__ == '__main__':
    main(' '.join(sys.argv[1:]))
