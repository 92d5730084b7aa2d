"""Unreadable images named, with their data set.

A sample whose image file is empty, truncated or not an image makes the
loading transform fail without naming the file (``cv2.error: ...
!buf.empty()``) or the data set (``failed to load image: <file>``).
:func:`name_unreadable_images`, run when the package is imported, wraps
mmengine's ``BaseDataset.prepare_data``, through which every MMDetection and
MMSegmentation data set runs its pipeline in training and testing: when the
pipeline fails on a sample whose local image or segmentation map cannot be
read, it raises :class:`UnreadableImageError` naming the file, the reason,
the data set (type, ``data_root``, ``ann_file``) and the sample index.
Readable samples take the upstream path unchanged, and other failures are
re-raised as they are.
"""
import functools
import os.path as osp

import mmcv
from mmengine.dataset import BaseDataset

FILES = (('img_path', 'image'), ('seg_map_path', 'segmentation map'))


class UnreadableImageError(OSError):
    """An image or segmentation map file that cannot be read or decoded."""


def image_problem(path):
    """Why the local image file ``path`` cannot be used, or None."""
    if not osp.isfile(path):
        return 'the file does not exist'
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        return 'the file is empty (0 bytes)'
    try:
        image = mmcv.imfrombytes(data, flag='unchanged')
    except Exception as err:  # the decoder's own errors
        return f'it cannot be decoded ({err})'
    if image is None:
        return (f'it cannot be decoded ({len(data)} bytes: truncated, '
                'damaged or not an image)')
    return None


def _unreadable(dataset, idx):
    """The :class:`UnreadableImageError` for sample ``idx`` of ``dataset``,
    or None when its files are readable."""
    info = dataset.get_data_info(idx)
    for key, what in FILES:
        path = info.get(key)
        if not isinstance(path, str) or '://' in path:
            continue
        problem = image_problem(path)
        if problem is not None:
            return UnreadableImageError(
                f'Unreadable {what} {path}: {problem}; sample {idx} of data '
                f'set {type(dataset).__name__} (data_root '
                f'{dataset.data_root!r}, ann_file {dataset.ann_file!r})')
    return None


def name_unreadable_images():
    """Wrap ``BaseDataset.prepare_data`` (once) as the module describes."""
    upstream = BaseDataset.prepare_data
    if getattr(upstream, 'names_unreadable_images', False):
        return

    @functools.wraps(upstream)
    def prepare_data(self, idx):
        try:
            return upstream(self, idx)
        except Exception as err:
            unreadable = _unreadable(self, idx)
            if unreadable is None:
                raise
            raise unreadable from err

    prepare_data.names_unreadable_images = True
    BaseDataset.prepare_data = prepare_data
