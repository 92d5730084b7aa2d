"""Deterministic synthetic scenes (coloured shapes on textured backgrounds)
written in the real COCO, ADE20K and Pascal VOC file formats.

Shapes are named after the ADE20K classes they stand for, so the same names
work in all three formats: ``ball`` (circle), ``box`` (square), ``tent``
(triangle). Segmentation labels put the background in ADE20K's ``wall``,
``floor`` or ``sky`` class and keep ADE20K's 150-class label ids.

The writers take a :class:`SceneFamily` (``DEMO_SCENES`` here; the study's
source and target families live in ``study_scenes.py``).
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Callable, NamedTuple, Tuple

import cv2
import numpy as np
from mmseg.datasets import ADE20KDataset

CLASSES = ('ball', 'box', 'tent')
BACKGROUNDS = ('wall', 'floor', 'sky')


class SceneFamily(NamedTuple):
    """A scene distribution: ``render(rng, size)`` returns ``(image HxWx3
    uint8 BGR, [(class_index, mask HxW bool)], background_index)``; class
    and background names are ADE20K class names."""
    render: Callable
    classes: Tuple[str, ...]
    backgrounds: Tuple[str, ...]


def ade_label_id(name):
    """ADE20K label png value of class ``name`` (0 = other, k = class
    k-1 of the 150)."""
    return ADE20KDataset.METAINFO['classes'].index(name) + 1


def _texture(rng, size, background):
    """wall: vertical stripes; floor: checkerboard; sky: smooth blue-ish
    vertical gradient. Colours and frequencies vary per scene."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    freq = rng.uniform(0.15, 0.4)
    if BACKGROUNDS[background] == 'wall':
        pattern = np.sin(freq * xx)
    elif BACKGROUNDS[background] == 'floor':
        pattern = np.sign(np.sin(freq * xx) * np.sin(freq * yy))
    else:
        pattern = 1 - 2 * yy / size
    base = rng.integers(40, 216, 3)
    if BACKGROUNDS[background] == 'sky':
        base[0] = 200  # BGR: blue
    img = base + 30 * pattern[..., None] + rng.normal(0, 6, (size, size, 3))
    return np.clip(img, 0, 255)


def render_scene(rng, size, max_shapes=3):
    """Return ``(image HxWx3 uint8 BGR, [(class_index, mask HxW bool)],
    background_index)``; masks are the visible parts after occlusion."""
    background = int(rng.integers(len(BACKGROUNDS)))
    img = _texture(rng, size, background)
    instances = []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        cls = int(rng.integers(len(CLASSES)))
        radius = int(rng.uniform(0.12, 0.25) * size)
        cx, cy = rng.integers(radius, size - radius, 2)
        mask = np.zeros((size, size), np.uint8)
        if CLASSES[cls] == 'ball':
            cv2.circle(mask, (int(cx), int(cy)), radius, 1, -1)
        elif CLASSES[cls] == 'box':
            cv2.rectangle(mask, (int(cx - radius), int(cy - radius)),
                          (int(cx + radius), int(cy + radius)), 1, -1)
        else:
            pts = np.array([[cx, cy - radius], [cx - radius, cy + radius],
                            [cx + radius, cy + radius]], np.int32)
            cv2.fillPoly(mask, [pts], 1)
        mask = mask.astype(bool)
        colour = (img[mask].mean(0) + rng.integers(80, 176, 3)) % 256
        img[mask] = colour + rng.normal(0, 4, (mask.sum(), 3))
        instances = [(c, m & ~mask) for c, m in instances] + [(cls, mask)]
    instances = [(c, m) for c, m in instances if m.sum() >= 16]
    return np.clip(img, 0, 255).astype(np.uint8), instances, background


DEMO_SCENES = SceneFamily(render_scene, CLASSES, BACKGROUNDS)


def _scenes(seed, num, size, family):
    rng = np.random.default_rng(seed)
    for i in range(num):
        yield i, family.render(rng, size)


def _bbox(mask):
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def write_coco(root, splits, size, seed, family=DEMO_SCENES):
    """``root/{train,val}2017/*.jpg`` and
    ``root/annotations/instances_{train,val}2017.json`` (polygons)."""
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split_index, (split, num) in enumerate(splits.items()):
        img_dir = osp.join(root, f'{split}2017')
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for i, (img, instances, _) in _scenes(seed + split_index, num, size,
                                                  family):
            file_name = f'{i:06d}.jpg'
            cv2.imwrite(osp.join(img_dir, file_name), img)
            images.append(dict(id=i, file_name=file_name, height=size,
                               width=size))
            for cls, mask in instances:
                contours, _ = cv2.findContours(mask.astype(np.uint8),
                                               cv2.RETR_EXTERNAL,
                                               cv2.CHAIN_APPROX_SIMPLE)
                polygons = [c.flatten().tolist() for c in contours
                            if len(c) >= 3]
                x1, y1, x2, y2 = _bbox(mask)
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=i,
                         category_id=cls + 1, segmentation=polygons,
                         area=float(mask.sum()), iscrowd=0,
                         bbox=[x1, y1, x2 - x1, y2 - y1]))
        categories = [dict(id=i + 1, name=n, supercategory='shape')
                      for i, n in enumerate(family.classes)]
        with open(osp.join(root, 'annotations',
                           f'instances_{split}2017.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories), f)


def write_ade20k(root, splits, size, seed, family=DEMO_SCENES):
    """``root/images/{training,validation}/*.jpg`` and
    ``root/annotations/{training,validation}/*.png`` (ADE20K label ids)."""
    for split_index, (split, num) in enumerate(splits.items()):
        for sub in ('images', 'annotations'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for i, (img, instances, background) in _scenes(
                seed + 100 + split_index, num, size, family):
            label = np.full((size, size),
                            ade_label_id(family.backgrounds[background]),
                            np.uint8)
            for cls, mask in instances:
                label[mask] = ade_label_id(family.classes[cls])
            name = f'ADE_{split}_{i:08d}'
            cv2.imwrite(osp.join(root, 'images', split, name + '.jpg'), img)
            cv2.imwrite(osp.join(root, 'annotations', split, name + '.png'),
                        label)


def write_voc(root, splits, size, seed, family=DEMO_SCENES):
    """``root/VOC{2007,2012}/{JPEGImages,Annotations,ImageSets/Main}``:
    VOC2007 ``trainval`` and ``test``, VOC2012 ``trainval``."""
    for year_index, (year, split, num) in enumerate(splits):
        base = osp.join(root, f'VOC{year}')
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
            os.makedirs(osp.join(base, sub), exist_ok=True)
        ids = []
        for i, (img, instances, _) in _scenes(seed + 200 + year_index, num,
                                              size, family):
            img_id = f'{year}_{split}_{i:06d}'
            ids.append(img_id)
            cv2.imwrite(osp.join(base, 'JPEGImages', img_id + '.jpg'), img)
            ann = ET.Element('annotation')
            ET.SubElement(ann, 'filename').text = img_id + '.jpg'
            size_el = ET.SubElement(ann, 'size')
            for tag, value in (('width', size), ('height', size),
                               ('depth', 3)):
                ET.SubElement(size_el, tag).text = str(value)
            for cls, mask in instances:
                obj = ET.SubElement(ann, 'object')
                ET.SubElement(obj, 'name').text = family.classes[cls]
                ET.SubElement(obj, 'difficult').text = '0'
                box = ET.SubElement(obj, 'bndbox')
                # VOC boxes are 1-based and inclusive.
                x1, y1, x2, y2 = _bbox(mask)
                for tag, value in zip(('xmin', 'ymin', 'xmax', 'ymax'),
                                      (x1 + 1, y1 + 1, x2, y2)):
                    ET.SubElement(box, tag).text = str(value)
            ET.ElementTree(ann).write(
                osp.join(base, 'Annotations', img_id + '.xml'))
        with open(osp.join(base, 'ImageSets', 'Main', split + '.txt'),
                  'w') as f:
            f.write('\n'.join(ids) + '\n')


def generate(out_dir, num_train=64, num_val=16, size=128, seed=0,
             formats=('coco', 'ade20k', 'voc'), family=DEMO_SCENES):
    """Write the requested formats of ``family``'s scenes under ``out_dir``
    in the directory layout the upstream mmdet/mmseg configs expect below
    their ``data_root``: ``coco/``, ``ade/ADEChallengeData2016/``,
    ``VOCdevkit/``."""
    if 'coco' in formats:
        write_coco(osp.join(out_dir, 'coco'),
                   dict(train=num_train, val=num_val), size, seed, family)
    if 'ade20k' in formats:
        write_ade20k(osp.join(out_dir, 'ade', 'ADEChallengeData2016'),
                     dict(training=num_train, validation=num_val), size, seed,
                     family)
    if 'voc' in formats:
        write_voc(osp.join(out_dir, 'VOCdevkit'),
                  [(2007, 'trainval', num_train // 2), (2007, 'test', num_val),
                   (2012, 'trainval', num_train - num_train // 2)], size, seed,
                  family)
