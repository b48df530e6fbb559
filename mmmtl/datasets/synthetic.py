"""A deterministic synthetic multi-task dataset, written as real ones are.

Every scene has 2-4 textured "stuff" regions (sky, grass, water, road): wavy
horizontal bands under an optional sky, sometimes with a road running to the
horizon or a pond / meadow patch. On top, 1-6 objects (circle, square,
triangle, star) of varied size, colour, rotation and texture are drawn in
z-order, so that objects overlap and occlude each other. The image gets a
global illumination jitter, a slight blur and Gaussian noise; the labels are
exact. Written as::

    meta.json                          class lists, palettes, generation args
    annotations/instances_{split}.json COCO instances (category ids 1..4) of
                                       the *visible* part of every object:
                                       tight box, pixel area, RLE mask; plus
                                       a top-level "seg_classes" list
    images/{split}/NNNNNN.jpg          RGB images (JPEG quality 95)
    seg_maps/{split}/NNNNNN.png        uint8 label ids: stuff 0..3, objects
                                       4..7, 255 (ignore)

An object hidden (by other objects or the image border) below
``MIN_VISIBLE_PX`` pixels or ``MIN_VISIBLE_FRACTION`` of its full area is not
annotated for detection, and its remaining pixels are 255 in the seg map, so
both tasks describe the same scene.

Only numpy and OpenCV are needed to import this module and render scenes
(pycocotools to write the RLE masks, tqdm for the progress bar); it does not
depend on the rest of :mod:`mmmtl`. Each image comes from a generator seeded
with ``(seed, split, index)``: the same arguments give the same bytes.
"""
import json
import os
import os.path as osp
import secrets
import shutil
import socket
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

DET_CLASSES = ('circle', 'square', 'triangle', 'star')
STUFF_CLASSES = ('sky', 'grass', 'water', 'road')
SEG_CLASSES = STUFF_CLASSES + DET_CLASSES
SEG_PALETTE = [(135, 206, 235), (34, 139, 34), (30, 80, 160), (110, 110, 110),
               (220, 20, 60), (255, 215, 0), (186, 85, 211), (255, 140, 0)]
DET_PALETTE = SEG_PALETTE[len(STUFF_CLASSES):]
IGNORE_INDEX = 255
MIN_VISIBLE_PX = 30
MIN_VISIBLE_FRACTION = 0.25
# Bump when the scenes change: ensure_synthetic_dataset() then regenerates.
VERSION = 2

SPLITS = ('train', 'val')
_SKY, _GRASS, _WATER, _ROAD = range(len(STUFF_CLASSES))
# base RGB colour of each object class (jittered per object)
_OBJECT_COLOURS = np.array([(210, 45, 45), (225, 200, 45), (150, 65, 195),
                            (240, 125, 25)], dtype=np.float32)
_MIN_OBJECT_SIZE = 10.0


# --------------------------------------------------------------- rendering
def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that renders image ``index`` of ``split``."""
    return np.random.default_rng([int(seed), SPLITS.index(split), int(index)])


def _smooth_noise(h: int, w: int, rng, cells: int) -> np.ndarray:
    """Smooth noise, roughly in [-1, 1], varying over ``cells`` cells."""
    grid = rng.uniform(-1, 1, (cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _stuff_texture(cls: int, h: int, w: int, rng) -> np.ndarray:
    """An (h, w, 3) float RGB image of stuff class ``cls``: each class has a
    base colour and a texture of its own, both jittered per image."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    jitter = rng.uniform(-20, 20, 3).astype(np.float32)
    if cls == _SKY:      # smooth vertical gradient, sometimes soft clouds
        top = np.array([80, 140, 225], np.float32) + jitter
        bottom = np.array([185, 215, 245], np.float32) + jitter
        t = (yy / max(h - 1, 1))[..., None] ** rng.uniform(0.7, 1.4)
        img = top * (1 - t) + bottom * t
        if rng.random() < 0.5:
            c = _smooth_noise(h, w, rng, int(rng.integers(3, 7)))
            thr = rng.uniform(0.1, 0.5)
            cloud = np.clip((c - thr) / (1 - thr), 0, 1)[..., None] * 0.8
            img = img * (1 - cloud) + 240 * cloud
        img += rng.normal(0, 1.5, (h, w, 1))
    elif cls == _GRASS:  # green, high-frequency noise with vertical blades
        base = np.array([55, 140, 45], np.float32) + jitter
        n = rng.normal(0, 1, (h, w)).astype(np.float32)
        blades = cv2.GaussianBlur(n, (1, 7), 0) * 1.6
        tex = 0.5 * n + blades
        img = base + tex[..., None] * np.array([11, 20, 9], np.float32)
        img += 12 * _smooth_noise(h, w, rng, 3)[..., None]
    elif cls == _WATER:  # blue with wavy sinusoidal ripples
        base = np.array([35, 85, 170], np.float32) + jitter
        tilt = rng.uniform(-0.3, 0.3)
        f = rng.uniform(0.3, 0.8)
        v = yy * np.cos(tilt) + xx * np.sin(tilt)
        wave = np.sin(f * v + rng.uniform(1, 4) *
                      np.sin(rng.uniform(0.05, 0.2) * xx + rng.uniform(0, 7))
                      + rng.uniform(0, 7))
        img = base + rng.uniform(15, 30) * wave[..., None] * \
            np.array([0.7, 0.9, 1.0], np.float32)
        img += rng.normal(0, 2, (h, w, 1))
    else:                # road: grey asphalt with speckles
        grey = rng.uniform(90, 130)
        base = grey + rng.uniform(-6, 6, 3).astype(np.float32)
        speck = (rng.random((h, w)) < rng.uniform(0.04, 0.1)) * \
            rng.normal(0, 45, (h, w))
        img = base + (speck + rng.normal(0, 4, (h, w)))[..., None]
    return img.astype(np.float32)


def _wavy_line(y: float, w: int, h: int, rng, amp: float) -> np.ndarray:
    """The row of a smooth random boundary around ``y`` at every column."""
    x = np.arange(w, dtype=np.float32)
    line = y + rng.uniform(-0.1, 0.1) * h * (x / w - 0.5)   # slight tilt
    for cycles, a in ((rng.uniform(0.3, 1.5), amp),
                      (rng.uniform(1.5, 4.0), amp / 3)):
        line = line + rng.uniform(0.2, 1) * a * h * np.sin(
            2 * np.pi * cycles * x / w + rng.uniform(0, 2 * np.pi))
    return line


def _road_polygon(h: int, w: int, top: float, rng) -> np.ndarray:
    """A road running from the bottom edge to a vanishing point."""
    vx = rng.uniform(0.2, 0.8) * w
    bottom_x = vx + rng.uniform(-0.35, 0.35) * w
    bottom_half = rng.uniform(0.25, 0.6) * w
    top_half = rng.uniform(0.01, 0.06) * w
    return np.array([(bottom_x - bottom_half, h + 2),
                     (bottom_x + bottom_half, h + 2),
                     (vx + top_half, top), (vx - top_half, top)])


def _blob_polygon(h: int, w: int, top: float, rng) -> np.ndarray:
    """A smooth random blob (a pond, a meadow) below row ``top``."""
    cx = rng.uniform(0.15, 0.85) * w
    cy = rng.uniform(min(top + 0.1 * h, 0.8 * h), 0.9 * h)
    r = rng.uniform(0.15, 0.35) * min(h, w)
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    radius = np.ones_like(t)
    for k in (2, 3, 4):
        radius += rng.uniform(0, 0.15) * np.sin(k * t + rng.uniform(0, 7))
    stretch = rng.uniform(1.0, 1.8)
    return np.stack([cx + stretch * r * radius * np.cos(t),
                     cy + r * radius * np.sin(t)], 1)


def _fill(mask: np.ndarray, pts: np.ndarray) -> None:
    """Fill polygon ``pts`` (float x, y) into ``mask`` at 1/16 px."""
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1,
                 lineType=cv2.LINE_8, shift=4)


def _background(h: int, w: int, rng) -> Tuple[np.ndarray, np.ndarray]:
    """The stuff regions: float RGB image and uint8 label map."""
    n_classes = int(rng.integers(2, 5))
    has_sky = bool(rng.random() < 0.8)
    classes = ([_SKY] if has_sky else []) + \
        [int(c) for c in rng.permutation([_GRASS, _WATER, _ROAD])]
    classes = classes[:n_classes]
    patch = None      # the last ground class may be a road / a blob
    if (len(classes) >= 3 or not has_sky) and rng.random() < 0.5:
        patch = classes.pop()

    # horizontal bands, top to bottom, with wavy boundaries
    if has_sky:
        horizon = rng.uniform(0.25, 0.6) * h
        cuts = [horizon] + sorted(
            rng.uniform(horizon + 0.08 * h, 0.9 * h, len(classes) - 2))
    else:
        horizon = 0.0
        cuts = sorted(rng.uniform(0.2 * h, 0.8 * h, len(classes) - 1))
    labels = np.full((h, w), classes[-1], np.uint8)
    rows = np.arange(h, dtype=np.float32)[:, None]
    lines = [_wavy_line(c, w, h, rng, amp=0.06) for c in cuts]
    for cls, line in reversed(list(zip(classes[:-1], lines))):
        labels[rows < line[None, :]] = cls

    if patch is not None:
        shape = np.zeros((h, w), np.uint8)
        top = horizon if has_sky else rng.uniform(0.0, 0.4) * h
        if patch == _ROAD:
            _fill(shape, _road_polygon(h, w, top, rng))
        else:
            _fill(shape, _blob_polygon(h, w, top, rng))
        labels[(shape > 0) & (labels != _SKY)] = patch
        classes.append(patch)

    img = np.zeros((h, w, 3), np.float32)
    for cls in classes:
        texture = _stuff_texture(cls, h, w, rng)
        m = labels == cls
        img[m] = texture[m]
    return img, labels


def _object_mask(cls: int, h: int, w: int, rng) -> np.ndarray:
    """The full mask (within the image) of one object of class ``cls``."""
    hi = max(0.5 * min(h, w), _MIN_OBJECT_SIZE + 1)
    size = float(np.exp(rng.uniform(np.log(_MIN_OBJECT_SIZE), np.log(hi))))
    cx = rng.uniform(0.1, 0.9) * w
    cy = rng.uniform(0.1, 0.9) * h
    angle = rng.uniform(0, 2 * np.pi)
    mask = np.zeros((h, w), np.uint8)
    if cls == 0:        # circle of diameter `size`
        cv2.circle(mask, (int(round(cx * 16)), int(round(cy * 16))),
                   int(round(size / 2 * 16)), 1, -1, cv2.LINE_8, 4)
        return mask.astype(bool)
    if cls == 1:        # square of side 0.85 * size
        ang = angle + np.arange(4) * np.pi / 2
        radii = np.full(4, 0.85 * size / np.sqrt(2))
    elif cls == 2:      # equilateral triangle
        ang = angle + np.arange(3) * 2 * np.pi / 3
        radii = np.full(3, 0.6 * size)
    else:               # five-pointed star
        ang = angle + np.arange(10) * np.pi / 5
        outer = 0.6 * size
        radii = np.where(np.arange(10) % 2 == 0, outer,
                         outer * rng.uniform(0.4, 0.5))
    _fill(mask, np.stack([cx + radii * np.cos(ang),
                          cy + radii * np.sin(ang)], 1))
    return mask.astype(bool)


def _paint_object(img: np.ndarray, mask: np.ndarray, cls: int, rng) -> None:
    """Paint an object: its class's colour family, jittered, with shading
    stripes in a random direction and a little pixel noise."""
    ys, xs = np.nonzero(mask)
    colour = _OBJECT_COLOURS[cls] + rng.uniform(-30, 30, 3)
    theta = rng.uniform(0, 2 * np.pi)
    shade = 1 + rng.uniform(0.05, 0.2) * np.sin(
        rng.uniform(0.15, 0.6) * (xs * np.cos(theta) + ys * np.sin(theta))
        + rng.uniform(0, 2 * np.pi))
    img[ys, xs] = colour * shade[:, None] + rng.normal(0, 5, (len(ys), 1))


def render_scene(h: int, w: int, rng) -> Tuple[np.ndarray, np.ndarray, List]:
    """Render one scene with generator ``rng``.

    Returns:
        tuple: ``(img, seg, objects)``: the (h, w, 3) uint8 RGB image; the
        (h, w) uint8 seg label map; and for every object drawn, in z-order,
        ``dict(category_id, full, mask, annotated)`` with ``full`` its whole
        mask within the image, ``mask`` its visible part, ``annotated``
        whether it is kept for detection (if not, its visible pixels are
        ``IGNORE_INDEX`` in ``seg``).
    """
    img, seg = _background(h, w, rng)
    owner = np.full((h, w), -1, np.int16)
    objects = []
    for _ in range(int(rng.integers(1, 7))):
        cls = int(rng.integers(0, len(DET_CLASSES)))
        full = _object_mask(cls, h, w, rng)
        _paint_object(img, full, cls, rng)
        owner[full] = len(objects)
        objects.append(dict(category_id=cls + 1, full=full))
    for idx, obj in enumerate(objects):
        visible = owner == idx
        n_visible = int(visible.sum())
        obj['mask'] = visible
        obj['annotated'] = (
            n_visible >= MIN_VISIBLE_PX and
            n_visible >= MIN_VISIBLE_FRACTION * int(obj['full'].sum()))
        seg[visible] = (len(STUFF_CLASSES) + obj['category_id'] - 1
                        if obj['annotated'] else IGNORE_INDEX)
    # camera: illumination and white balance, slight blur, sensor noise
    img = img * rng.uniform(0.85, 1.15) + rng.uniform(-8, 8, 3)
    img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.4, 0.9))
    img += rng.normal(0, rng.uniform(2.5, 7), img.shape)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img, seg, objects


def colorize_seg_map(seg: np.ndarray,
                     palette: Sequence = SEG_PALETTE) -> np.ndarray:
    """RGB picture of a seg label map (ignored pixels black)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:len(palette)] = np.array(palette, np.uint8)
    return lut[seg]


# ----------------------------------------------------------------- writing
def _annotation(mask: np.ndarray, category_id: int, ann_id: int,
                img_id: int) -> dict:
    from pycocotools import mask as mask_utils
    ys, xs = np.nonzero(mask)
    x1, y1 = int(xs.min()), int(ys.min())
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return dict(id=ann_id, image_id=img_id, category_id=category_id,
                bbox=[x1, y1, int(xs.max()) + 1 - x1, int(ys.max()) + 1 - y1],
                area=int(len(xs)), iscrowd=0, segmentation=rle)


def _write_split(root: str, split: str, num: int, h: int, w: int, seed: int,
                 progress: bool) -> None:
    img_dir = osp.join(root, 'images', split)
    seg_dir = osp.join(root, 'seg_maps', split)
    os.makedirs(img_dir)
    os.makedirs(seg_dir)
    images, annotations = [], []
    indices = range(num)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc=f'synthetic {split}', unit='img')
    for i in indices:
        img, seg, objects = render_scene(h, w, scene_rng(seed, split, i))
        name = f'{i:06d}'
        for path, arr, params in (
                (osp.join(img_dir, name + '.jpg'),
                 cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                 [cv2.IMWRITE_JPEG_QUALITY, 95]),
                (osp.join(seg_dir, name + '.png'), seg, [])):
            if not cv2.imwrite(path, arr, params):
                raise OSError(f'could not write {path}')
        img_id = i + 1
        images.append(dict(id=img_id, file_name=name + '.jpg', height=h,
                           width=w))
        for obj in objects:
            if obj['annotated']:
                annotations.append(_annotation(
                    obj['mask'], obj['category_id'], len(annotations) + 1,
                    img_id))
    coco = dict(
        info=dict(description=f'mmmtl synthetic multi-task dataset '
                  f'({split})', version=str(VERSION)),
        licenses=[],
        images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=n, supercategory='shape')
                    for i, n in enumerate(DET_CLASSES)],
        seg_classes=list(SEG_CLASSES))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', f'instances_{split}.json'),
              'w') as f:
        json.dump(coco, f)


def _meta(num_train: int, num_val: int, img_size: Tuple[int, int],
          seed: int) -> dict:
    return dict(det_classes=list(DET_CLASSES), seg_classes=list(SEG_CLASSES),
                seg_palette=[list(c) for c in SEG_PALETTE],
                det_palette=[list(c) for c in DET_PALETTE],
                num_train=num_train, num_val=num_val,
                img_size=list(img_size), seed=seed, version=VERSION)


def _as_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or \
            not isinstance(value, (int, np.integer)):
        raise TypeError(f'synthetic dataset: {name} must be an int, got '
                        f'{value!r}')
    return int(value)


def _check_args(num_train, num_val, img_size,
                seed) -> Tuple[int, int, Tuple[int, int], int]:
    """Validated ``(num_train, num_val, (h, w), seed)``."""
    num_train = _as_int('num_train', num_train)
    num_val = _as_int('num_val', num_val)
    seed = _as_int('seed', seed)
    if isinstance(img_size, (int, np.integer)) and \
            not isinstance(img_size, bool):
        img_size = (img_size, img_size)
    if not isinstance(img_size, (tuple, list)) or len(img_size) != 2:
        raise TypeError(f'synthetic dataset: img_size must be an int or '
                        f'(H, W), got {img_size!r}')
    h, w = (_as_int('img_size', v) for v in img_size)
    if min(h, w) < 32:
        raise ValueError(f'synthetic dataset: img_size must be at least '
                         f'32x32, got {h}x{w}')
    if num_train < 1 or num_val < 1:
        raise ValueError(f'synthetic dataset: num_train and num_val must be '
                         f'at least 1, got {num_train} and {num_val}')
    if seed < 0:
        raise ValueError(f'synthetic dataset: seed must be >= 0, got {seed}')
    return num_train, num_val, (h, w), seed


def _temp_name(out_dir: str, kind: str) -> str:
    """A unique sibling of ``out_dir``, naming this host and process."""
    parent, base = osp.split(out_dir)
    return osp.join(parent, f'.{base}.{kind}-{socket.gethostname()}-'
                    f'{os.getpid()}-{secrets.token_hex(4)}')


def _remove_stale_temps(out_dir: str) -> None:
    """Remove what killed runs on this host left beside ``out_dir``."""
    parent, base = osp.split(out_dir)
    host = socket.gethostname()
    for name in os.listdir(parent):
        for kind in ('partial', 'old'):
            prefix = f'.{base}.{kind}-{host}-'
            if not name.startswith(prefix):
                continue
            pid = name[len(prefix):].split('-')[0]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:      # its writer is gone
                shutil.rmtree(osp.join(parent, name), ignore_errors=True)
            except OSError:                 # alive (another user's)
                pass


def generate_synthetic_dataset(out_dir: str,
                               num_train: int = 200,
                               num_val: int = 50,
                               img_size: Union[int, Sequence[int]] = (128, 128),
                               seed: int = 0,
                               progress: bool = True,
                               overwrite: bool = False) -> Dict:
    """Write the dataset to ``out_dir`` and return its meta dict.

    Args:
        out_dir (str): Where to write (created, with its parents).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        img_size (int | tuple[int, int]): ``(H, W)``, or one int for a
            square; at least 32.
        seed (int): Non-negative seed; with the same arguments the files
            have the same bytes.
        progress (bool): Show a progress bar.
        overwrite (bool): Replace a non-empty ``out_dir``; without it such a
            folder is an error.

    The dataset is written to a temporary folder beside ``out_dir`` and
    renamed into place at the end, so an interrupted run never leaves a
    half-written dataset in ``out_dir``.
    """
    num_train, num_val, (h, w), seed = _check_args(num_train, num_val,
                                                   img_size, seed)
    target = osp.realpath(out_dir)      # a symlinked folder stays a link
    if osp.exists(target):
        if not osp.isdir(target):
            raise FileExistsError(f'{out_dir} exists and is not a folder')
        if os.listdir(target) and not overwrite:
            raise FileExistsError(f'{out_dir} exists and is not empty; pass '
                                  'overwrite=True (--overwrite) to replace '
                                  'it')
    os.makedirs(osp.dirname(target), exist_ok=True)
    _remove_stale_temps(target)
    tmp = _temp_name(target, 'partial')
    os.makedirs(tmp)
    try:
        for split, num in zip(SPLITS, (num_train, num_val)):
            _write_split(tmp, split, num, h, w, seed, progress)
        meta = _meta(num_train, num_val, (h, w), seed)
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
        if osp.exists(target):
            old = _temp_name(target, 'old')
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _read_meta(root: str) -> Optional[dict]:
    try:
        with open(osp.join(root, 'meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _is_complete(root: str, meta: dict) -> bool:
    """Whether the files that ``meta`` promises are all there."""
    for split in SPLITS:
        num = meta[f'num_{split}']
        if not osp.isfile(osp.join(root, 'annotations',
                                   f'instances_{split}.json')):
            return False
        for sub in ('images', 'seg_maps'):
            folder = osp.join(root, sub, split)
            if not osp.isdir(folder) or len(os.listdir(folder)) != num:
                return False
    return True


def ensure_synthetic_dataset(out_dir: str,
                             num_train: int = 200,
                             num_val: int = 50,
                             img_size: Union[int, Sequence[int]] = (128, 128),
                             seed: int = 0,
                             progress: bool = True) -> str:
    """Make sure ``out_dir`` holds the synthetic dataset of these arguments
    (as :func:`generate_synthetic_dataset`) and return ``out_dir``.

    Nothing is written when its ``meta.json`` matches the arguments (and the
    code's version) and its files are all there. Otherwise the dataset is
    (re)generated, replacing an earlier synthetic dataset; a non-empty
    folder without a synthetic ``meta.json`` is never replaced
    (:class:`FileExistsError`).
    """
    num_train, num_val, (h, w), seed = _check_args(num_train, num_val,
                                                   img_size, seed)
    want = _meta(num_train, num_val, (h, w), seed)
    root = osp.realpath(out_dir)
    if osp.isdir(root) and os.listdir(root):
        have = _read_meta(root)
        if have == want and _is_complete(root, want):
            return out_dir
        if have is None or 'version' not in have or \
                'seg_classes' not in have:
            raise FileExistsError(
                f'{out_dir} is not empty and holds no synthetic dataset '
                f'(no readable meta.json); not replacing it: remove it or '
                f'choose another folder')
    generate_synthetic_dataset(out_dir, num_train, num_val, (h, w), seed,
                               progress=progress, overwrite=True)
    return out_dir
