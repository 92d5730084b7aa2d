"""The mini-study's two scene distributions, as ImageNet and COCO differ.

- ``SOURCE_SCENES`` (pretraining only): eight high-contrast solid or
  textured shapes (``ball`` circle, ``box`` square, ``tent`` triangle,
  ``plate`` ellipse, ``signboard`` diamond, ``clock`` hexagon, ``vase``
  pentagon, ``flag`` bar) on six textures (``wall`` vertical stripes,
  ``ceiling`` horizontal stripes, ``floor`` checkerboard, ``sky`` gradient,
  ``rug`` dots, ``building`` brick grid).
- ``TARGET_SCENES`` (fine-tuning and evaluation): four other shapes, each
  filled with its class's fine texture (finer than any source texture) in
  a random colour offset from its surroundings (``person`` rotated cross
  with horizontal stripes, ``car`` ring with dots, ``bottle`` rotated
  capsule with a checkerboard, ``chair`` crescent with diagonal stripes) on four other backgrounds (``grass`` green fine noise,
  ``water`` warped diagonal waves, ``road`` grey asphalt with lane marks,
  ``sand`` smooth yellowish blobs) cluttered with unlabelled source-like
  shapes, which the source taught to be objects and here are background.

Class names are ADE20K (and, for the targets, also COCO and VOC) class
names; :func:`generate_target` writes the target scenes in the real COCO,
ADE20K and VOC formats with the writers of ``synthetic_scenes.py``.
"""
import cv2
import numpy as np

from .synthetic_scenes import SceneFamily, generate

# Versions of what the renderers draw, part of the mini-study's settings
# hash (source: its pretraining; target: its fine-tuning data): bump one
# with any change to its renderer (a test pins the scenes of each version).
SCENES_VERSION = dict(source=1, target=3)

SOURCE_CLASSES = ('ball', 'box', 'tent', 'plate', 'signboard', 'clock',
                  'vase', 'flag')
SOURCE_BACKGROUNDS = ('wall', 'ceiling', 'floor', 'sky', 'rug', 'building')
TARGET_CLASSES = ('person', 'car', 'bottle', 'chair')
TARGET_BACKGROUNDS = ('grass', 'water', 'road', 'sand')


def _grid(size):
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    return yy, xx


def _polygon(n, cx, cy, radius, angle):
    t = angle + 2 * np.pi * np.arange(n) / n
    return np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)],
                    1).astype(np.int32)


def _fill(mask_shape, draw):
    mask = np.zeros(mask_shape, np.uint8)
    draw(mask)
    return mask.astype(bool)


def _source_shape(rng, cls, size):
    radius = int(rng.uniform(0.1, 0.25) * size)
    cx, cy = (int(v) for v in rng.integers(radius, size - radius, 2))
    angle = rng.uniform(0, np.pi)
    name = SOURCE_CLASSES[cls]
    shape = (size, size)
    if name == 'ball':
        return _fill(shape, lambda m: cv2.circle(m, (cx, cy), radius, 1, -1))
    if name == 'box':
        return _fill(shape, lambda m: cv2.rectangle(
            m, (cx - radius, cy - radius), (cx + radius, cy + radius), 1, -1))
    if name == 'plate':
        return _fill(shape, lambda m: cv2.ellipse(
            m, (cx, cy), (radius, max(2, radius // 2)),
            float(np.degrees(angle)), 0, 360, 1, -1))
    if name == 'flag':
        return _fill(shape, lambda m: cv2.rectangle(
            m, (cx - radius, cy - radius // 3),
            (cx + radius, cy + radius // 3), 1, -1))
    sides = dict(tent=3, signboard=4, vase=5, clock=6)[name]
    start = -np.pi / 2 if name in ('tent', 'vase') else 0.0
    pts = _polygon(sides, cx, cy, radius, start)
    return _fill(shape, lambda m: cv2.fillPoly(m, [pts], 1))


def _source_texture(rng, size, background):
    yy, xx = _grid(size)
    freq = rng.uniform(0.15, 0.5)
    name = SOURCE_BACKGROUNDS[background]
    if name == 'wall':
        pattern = np.sin(freq * xx)
    elif name == 'ceiling':
        pattern = np.sin(freq * yy)
    elif name == 'floor':
        pattern = np.sign(np.sin(freq * xx) * np.sin(freq * yy))
    elif name == 'sky':
        pattern = 1 - 2 * yy / size
    elif name == 'rug':
        pattern = 2 * ((np.sin(freq * xx) * np.sin(freq * yy)) > 0.7) - 1
    else:  # building: brick rows with offset joints
        row = (yy // 8).astype(int)
        joints = ((xx + 8 * (row % 2)) % 16 < 1.5) | (yy % 8 < 1.5)
        pattern = 1 - 2 * joints
    base = rng.integers(40, 216, 3)
    img = base + 35 * pattern[..., None] + rng.normal(0, 6, (size, size, 3))
    return np.clip(img, 0, 255)


def render_source_scene(rng, size, max_shapes=4):
    """A source scene (see the module docstring)."""
    background = int(rng.integers(len(SOURCE_BACKGROUNDS)))
    img = _source_texture(rng, size, background)
    instances = []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        cls = int(rng.integers(len(SOURCE_CLASSES)))
        mask = _source_shape(rng, cls, size)
        colour = (img[mask].mean(0) + rng.integers(80, 176, 3)) % 256
        yy, xx = _grid(size)
        stripes = np.sin(rng.uniform(0.3, 0.8) * (xx + yy))[mask]
        textured = rng.random() < 0.5
        img[mask] = (colour + 25 * textured * stripes[:, None]
                     + rng.normal(0, 4, (mask.sum(), 3)))
        instances = [(c, m & ~mask) for c, m in instances] + [(cls, mask)]
    instances = [(c, m) for c, m in instances if m.sum() >= 16]
    return np.clip(img, 0, 255).astype(np.uint8), instances, background


def _smooth_noise(rng, size, cells):
    """Bilinearly upsampled random ``cells x cells`` field in [-1, 1]."""
    field = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(field, (size, size), interpolation=cv2.INTER_CUBIC)


def _target_texture(rng, size, background):
    yy, xx = _grid(size)
    name = TARGET_BACKGROUNDS[background]
    if name == 'grass':
        base = np.array([40, 140, 60]) + rng.integers(-25, 26, 3)  # BGR
        pattern = cv2.GaussianBlur(
            rng.uniform(-1, 1, (size, size)).astype(np.float32), (0, 0), 0.8)
        amp = 60
    elif name == 'water':
        base = np.array([170, 110, 40]) + rng.integers(-25, 26, 3)
        warp = 6 * _smooth_noise(rng, size, 4)
        pattern = np.sin(rng.uniform(0.2, 0.4) * (xx + yy + warp))
        amp = 30
    elif name == 'road':
        base = np.full(3, rng.integers(70, 130))
        pattern = rng.uniform(-0.5, 0.5, (size, size))
        lane_x = rng.integers(size // 4, 3 * size // 4)
        dashes = (np.abs(xx - lane_x) < 2) & (yy % 24 < 12)
        pattern = np.where(dashes, 4.0, pattern)
        amp = 25
    else:  # sand
        base = np.array([120, 190, 215]) + rng.integers(-25, 26, 3)
        pattern = _smooth_noise(rng, size, 6)
        amp = 35
    img = base + amp * pattern[..., None] + rng.normal(0, 5, (size, size, 3))
    return np.clip(img, 0, 255)


def _target_shape(rng, cls, size):
    radius = int(rng.uniform(0.15, 0.3) * size)
    cx, cy = (int(v) for v in rng.integers(radius, size - radius, 2))
    angle = rng.uniform(0, np.pi)
    name = TARGET_CLASSES[cls]
    shape = (size, size)
    if name == 'person':  # cross: two rotated bars
        arm = max(2, int(0.45 * radius))
        bars = []
        for a in (angle, angle + np.pi / 2):
            d = np.array([np.cos(a), np.sin(a)])
            n = np.array([-d[1], d[0]])
            bars.append(np.array(
                [np.array([cx, cy]) + s1 * radius * d + s2 * arm * n
                 for s1, s2 in ((-1, -1), (1, -1), (1, 1), (-1, 1))],
                np.int32))
        return _fill(shape, lambda m: cv2.fillPoly(m, bars, 1))
    if name == 'car':  # ring
        width = max(2, radius // 2)
        return _fill(shape, lambda m: cv2.circle(
            m, (cx, cy), radius - width // 2, 1, width))
    if name == 'bottle':  # capsule
        d = radius * np.array([np.cos(angle), np.sin(angle)])
        p1 = tuple(int(v) for v in np.array([cx, cy]) - d)
        p2 = tuple(int(v) for v in np.array([cx, cy]) + d)
        return _fill(shape, lambda m: cv2.line(
            m, p1, p2, 1, max(3, int(0.7 * radius))))
    # chair: crescent, a disc minus an offset disc
    disc = _fill(shape, lambda m: cv2.circle(m, (cx, cy), radius, 1, -1))
    off = (int(cx + 0.7 * radius * np.cos(angle)),
           int(cy + 0.7 * radius * np.sin(angle)))
    return disc & ~_fill(shape, lambda m: cv2.circle(m, off, radius, 1, -1))


def _class_texture(rng, cls, size):
    """The fine texture (period 4.5-7 px, in [-1, 1]) that fills every
    object of a target class, its cue beside the shape: ``person``
    horizontal stripes, ``car`` dots, ``bottle`` checkerboard, ``chair``
    diagonal stripes. Finer than any source texture."""
    yy, xx = _grid(size)
    freq = rng.uniform(0.9, 1.4)
    name = TARGET_CLASSES[cls]
    if name == 'person':
        return np.sin(freq * yy)
    if name == 'car':
        return 2 * (np.sin(freq * xx) * np.sin(freq * yy) > 0.5) - 1
    if name == 'bottle':
        return np.sign(np.sin(freq * xx) * np.sin(freq * yy))
    return np.sin(freq * (xx + yy) / np.sqrt(2))


def render_target_scene(rng, size, max_shapes=8, max_clutter=3):
    """A target scene (see the module docstring): the clutter is drawn
    first and is part of the background label. Objects (1 to
    ``max_shapes``, radius 15-30% of ``size``) cover about 30% of the
    pixels (128 px, version 3; 9% in version 2, where the loss was nearly
    all background)."""
    background = int(rng.integers(len(TARGET_BACKGROUNDS)))
    img = _target_texture(rng, size, background)
    for _ in range(int(rng.integers(0, max_clutter + 1))):
        mask = _source_shape(rng, int(rng.integers(3)), size)
        img[mask] = rng.integers(0, 256, 3)
    instances = []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        cls = int(rng.integers(len(TARGET_CLASSES)))
        mask = _target_shape(rng, cls, size)
        if mask.sum() == 0:
            continue
        offset = rng.choice([-1, 1], 3) * rng.integers(50, 90, 3)
        pattern = _class_texture(rng, cls, size)
        img[mask] = (img[mask].mean(0) + offset + 40 * pattern[mask][:, None]
                     + rng.normal(0, 4, (mask.sum(), 3)))
        instances = [(c, m & ~mask) for c, m in instances] + [(cls, mask)]
    instances = [(c, m) for c, m in instances if m.sum() >= 16]
    return np.clip(img, 0, 255).astype(np.uint8), instances, background


SOURCE_SCENES = SceneFamily(render_source_scene, SOURCE_CLASSES,
                            SOURCE_BACKGROUNDS)
TARGET_SCENES = SceneFamily(render_target_scene, TARGET_CLASSES,
                            TARGET_BACKGROUNDS)


def generate_target(out_dir, num_train, num_val, size, seed,
                    formats=('coco', 'ade20k', 'voc')):
    """Write the target scenes under ``out_dir`` as ``coco/``,
    ``ade/ADEChallengeData2016/`` and ``VOCdevkit/`` (see
    :func:`tools.scenes.synthetic_scenes.generate`)."""
    generate(out_dir, num_train, num_val, size, seed, formats,
             family=TARGET_SCENES)
