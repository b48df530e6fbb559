"""A deterministic synthetic multi-task dataset, written as real ones are.

Scenes of 2-4 textured "stuff" regions (sky, grass, water, road) separated by
wavy boundaries, with 1-6 objects (circle, square, triangle, star) of varied
size, colour, rotation and texture drawn on top in z-order, so that objects
overlap and occlude each other; Gaussian noise and a slight blur on the
image. Written as:

* ``images/{split}/NNNNNN.jpg`` — RGB images;
* ``annotations/instances_{split}.json`` — COCO instances: for every object
  its *visible* part (tight box, pixel area, RLE mask), category ids 1..4;
* ``seg_maps/{split}/NNNNNN.png`` — uint8 label ids: stuff 0..3, objects
  4..7, 255 (ignore) on the remnants of objects hidden so much that they are
  not annotated for detection, so both tasks describe the same scene;
* ``meta.json`` — class lists, palettes and the generation arguments.

Only numpy, OpenCV and pycocotools are needed. Each image comes from a
generator seeded with ``(seed, split, index)``: the same arguments give the
same bytes.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Sequence, Tuple, Union

import cv2
import numpy as np

DET_CLASSES = ('circle', 'square', 'triangle', 'star')
STUFF_CLASSES = ('sky', 'grass', 'water', 'road')
SEG_CLASSES = STUFF_CLASSES + DET_CLASSES
SEG_PALETTE = [(135, 206, 235), (34, 139, 34), (30, 80, 160), (110, 110, 110),
               (220, 20, 60), (255, 215, 0), (186, 85, 211), (255, 140, 0)]
DET_PALETTE = SEG_PALETTE[len(STUFF_CLASSES):]
IGNORE_INDEX = 255
VERSION = 1

_SPLITS = {'train': 0, 'val': 1}
# base RGB colour of each object class (jittered per object)
_OBJECT_COLOURS = np.array([(205, 40, 40), (225, 200, 40), (150, 60, 190),
                            (240, 120, 20)], dtype=np.float32)
_MIN_VISIBLE_PX = 30
_MIN_VISIBLE_FRACTION = 0.25


def _stuff_texture(cls: int, h: int, w: int, rng) -> np.ndarray:
    """An RGB float image of stuff class ``cls`` with its own texture."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    jitter = rng.uniform(-20, 20, 3).astype(np.float32)
    if cls == 0:    # sky: smooth vertical gradient
        top = np.array([90, 150, 230], np.float32) + jitter
        bottom = np.array([190, 220, 245], np.float32) + jitter
        t = (yy / max(h - 1, 1))[..., None]
        img = top * (1 - t) + bottom * t
        img += rng.normal(0, 2, (h, w, 1))
    elif cls == 1:  # grass: green with high-frequency noise
        img = np.array([50, 140, 45], np.float32) + jitter
        img = img + rng.normal(0, 22, (h, w, 1)) * np.array([0.6, 1.0, 0.5])
    elif cls == 2:  # water: blue with sinusoidal stripes
        f = rng.uniform(0.25, 0.6)
        phase = rng.uniform(0, 2 * np.pi)
        stripes = np.sin(f * yy + 0.3 * np.sin(0.15 * xx) + phase)[..., None]
        img = np.array([35, 85, 170], np.float32) + jitter + 25 * stripes
    else:           # road: grey with speckles
        img = np.full((h, w, 3), 105, np.float32) + jitter.mean()
        speck = (rng.random((h, w)) < 0.06)[..., None]
        img = img + speck * rng.uniform(-60, 60) + rng.normal(0, 5, (h, w, 1))
    return img


def _background(h: int, w: int, rng) -> Tuple[np.ndarray, np.ndarray]:
    """Stuff regions as horizontal bands with wavy boundaries."""
    k = int(rng.integers(2, 5))
    ground = [c for c in rng.permutation([1, 2, 3])]
    classes = ([0] if rng.random() < 0.8 else []) + ground
    classes = classes[:k] if len(classes) >= k else classes
    k = len(classes)
    xs = np.arange(w, dtype=np.float32)
    cuts = np.sort(rng.uniform(0.15, 0.85, k - 1)) * h
    labels = np.full((h, w), classes[-1], np.uint8)
    yy = np.arange(h, dtype=np.float32)[:, None]
    bounds = []
    for c in cuts:
        amp = rng.uniform(1, 0.08 * h)
        freq = rng.uniform(0.5, 3.0) * 2 * np.pi / w
        bounds.append(c + amp * np.sin(freq * xs + rng.uniform(0, 6.3)))
    for i in range(k - 2, -1, -1):
        labels[yy < bounds[i][None, :]] = classes[i]
    img = np.zeros((h, w, 3), np.float32)
    for c in classes:
        m = labels == c
        if m.any():
            img[m] = _stuff_texture(c, h, w, rng)[m]
    return img, labels


def _object_mask(cls: int, h: int, w: int, rng) -> Tuple[np.ndarray, float]:
    """Full (unoccluded) mask of one object of class ``cls``."""
    size = float(rng.uniform(10, 0.5 * min(h, w)))
    cx = rng.uniform(0.1 * w, 0.9 * w)
    cy = rng.uniform(0.1 * h, 0.9 * h)
    angle = rng.uniform(0, 2 * np.pi)
    mask = np.zeros((h, w), np.uint8)
    r = size / 2
    if cls == 0:
        cv2.circle(mask, (int(round(cx)), int(round(cy))),
                   max(int(round(r)), 3), 1, -1)
    else:
        if cls == 1:
            ang = angle + np.arange(4) * np.pi / 2 + np.pi / 4
            radii = np.full(4, r * np.sqrt(2) * 0.8)
        elif cls == 2:
            ang = angle + np.arange(3) * 2 * np.pi / 3
            radii = np.full(3, r * 1.1)
        else:
            ang = angle + np.arange(10) * np.pi / 5
            radii = np.where(np.arange(10) % 2 == 0, r * 1.1, r * 0.45)
        pts = np.stack([cx + radii * np.cos(ang), cy + radii * np.sin(ang)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool), size


def render_scene(h: int, w: int, rng) -> Tuple[np.ndarray, np.ndarray, list]:
    """One scene: RGB uint8 image, seg label map, visible objects.

    Each object is ``dict(category_id, mask)`` (mask: visible pixels).
    """
    img, seg = _background(h, w, rng)
    n = int(rng.integers(1, 7))
    owner = np.full((h, w), -1, np.int32)
    objects = []
    for i in range(n):
        cls = int(rng.integers(0, len(DET_CLASSES)))
        mask, _ = _object_mask(cls, h, w, rng)
        if not mask.any():
            continue
        colour = _OBJECT_COLOURS[cls] + rng.uniform(-35, 35, 3)
        shade = 1 + 0.15 * np.sin(
            np.mgrid[0:h, 0:w][1] * rng.uniform(0.2, 0.8))[..., None]
        img[mask] = (colour * shade)[mask] + rng.normal(0, 6, (mask.sum(), 1))
        owner[mask] = len(objects)
        objects.append(dict(category_id=cls + 1, full=mask))
    visible_objects = []
    for idx, obj in enumerate(objects):
        visible = owner == idx
        full = int(obj['full'].sum())
        vis = int(visible.sum())
        if vis < _MIN_VISIBLE_PX or vis < _MIN_VISIBLE_FRACTION * full:
            seg[visible] = IGNORE_INDEX     # hidden too much to annotate
            continue
        seg[visible] = len(STUFF_CLASSES) + obj['category_id'] - 1
        visible_objects.append(dict(category_id=obj['category_id'],
                                    mask=visible))
    img += rng.normal(0, 6, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (3, 3), 0.6)
    return img, seg, visible_objects


def _annotation(obj: dict, ann_id: int, img_id: int) -> dict:
    from pycocotools import mask as mask_utils
    m = obj['mask']
    ys, xs = np.nonzero(m)
    x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return dict(id=ann_id, image_id=img_id, category_id=obj['category_id'],
                bbox=[int(x1), int(y1), int(x2 - x1), int(y2 - y1)],
                area=int(m.sum()), iscrowd=0, segmentation=rle)


def _write_split(root: str, split: str, num: int, h: int, w: int, seed: int,
                 progress: bool) -> None:
    img_dir = osp.join(root, 'images', split)
    seg_dir = osp.join(root, 'seg_maps', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(seg_dir, exist_ok=True)
    images, annotations = [], []
    indices = range(num)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc=f'synthetic {split}', unit='img')
    for i in indices:
        rng = np.random.default_rng([seed, _SPLITS[split], i])
        img, seg, objects = render_scene(h, w, rng)
        name = f'{i:06d}'
        cv2.imwrite(osp.join(img_dir, name + '.jpg'),
                    cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(seg_dir, name + '.png'), seg)
        img_id = i + 1
        images.append(dict(id=img_id, file_name=name + '.jpg', height=h,
                           width=w))
        for obj in objects:
            annotations.append(
                _annotation(obj, len(annotations) + 1, img_id))
    coco = dict(
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


def _check_args(num_train, num_val, img_size) -> Tuple[int, int]:
    if isinstance(img_size, int):
        img_size = (img_size, img_size)
    h, w = (int(v) for v in img_size)
    if min(h, w) < 32:
        raise ValueError(f'synthetic dataset: img_size must be at least '
                         f'32x32, got {h}x{w}')
    if num_train < 1 or num_val < 1:
        raise ValueError(f'synthetic dataset: num_train and num_val must be '
                         f'>= 1, got {num_train} and {num_val}')
    return h, w


def generate_synthetic_dataset(out_dir: str,
                               num_train: int = 200,
                               num_val: int = 50,
                               img_size: Union[int, Sequence[int]] = (128, 128),
                               seed: int = 0,
                               progress: bool = True,
                               overwrite: bool = False) -> Dict:
    """Write the dataset to ``out_dir`` and return its meta dict.

    ``img_size`` is ``(H, W)`` (or one int). The dataset is written to a
    temporary folder beside ``out_dir`` and moved into place at the end, so
    an interrupted run leaves no half-written dataset.
    """
    h, w = _check_args(num_train, num_val, img_size)
    if osp.exists(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f'{out_dir} exists and is not empty; pass '
                              'overwrite=True (--overwrite) to replace it')
    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.synthetic-', dir=parent)
    try:
        _write_split(tmp, 'train', num_train, h, w, seed, progress)
        _write_split(tmp, 'val', num_val, h, w, seed, progress)
        meta = _meta(num_train, num_val, (h, w), seed)
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
        if osp.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return meta


def ensure_synthetic_dataset(out_dir: str, num_train: int = 200,
                             num_val: int = 50,
                             img_size: Union[int, Sequence[int]] = (128, 128),
                             seed: int = 0, progress: bool = True) -> str:
    """Generate the dataset unless ``out_dir`` already holds exactly it."""
    h, w = _check_args(num_train, num_val, img_size)
    want = _meta(num_train, num_val, (h, w), seed)
    meta_file = osp.join(out_dir, 'meta.json')
    if osp.isfile(meta_file):
        with open(meta_file) as f:
            if json.load(f) == want:
                return out_dir
    generate_synthetic_dataset(out_dir, num_train, num_val, (h, w), seed,
                               progress=progress, overwrite=True)
    return out_dir
