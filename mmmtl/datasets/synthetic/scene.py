"""One synthetic scene: stuff regions, overlapping objects, a camera.

Every scene has 2-4 textured "stuff" regions (sky, grass, water, road):
wavy horizontal bands under an optional sky, sometimes with a road running
to the horizon or a pond / meadow patch. On top, 1-6 objects (circle,
square, triangle, star) of varied size, colour, rotation and texture are
drawn in z-order, so that objects overlap and occlude each other. The
image gets a global illumination jitter, a slight blur and Gaussian noise;
the labels are exact.

An object hidden (by other objects or the image border) below
``MIN_VISIBLE_PX`` pixels or ``MIN_VISIBLE_FRACTION`` of its full area is
not annotated for detection, and its remaining pixels are ``IGNORE_INDEX``
in the seg map, so both tasks describe the same scene.
"""
from typing import List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .depth import scene_depth
from .meta import DET_CLASSES, IGNORE_INDEX, SPLITS, STUFF_CLASSES
from .textures import GRASS, ROAD, SKY, WATER, stuff_texture

MIN_VISIBLE_PX = 30
MIN_VISIBLE_FRACTION = 0.25
# base RGB colour of each object class (jittered per object)
_OBJECT_COLOURS = np.array([(210, 45, 45), (225, 200, 45), (150, 65, 195),
                            (240, 125, 25)], dtype=np.float32)
_MIN_OBJECT_SIZE = 10.0


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that renders image ``index`` of ``split``."""
    return np.random.default_rng([int(seed), SPLITS.index(split), int(index)])


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


def _stuff_layout(h: int, w: int,
                  rng) -> Tuple[np.ndarray, List[int], Optional[float]]:
    """The stuff label map: horizontal bands with wavy boundaries (top to
    bottom, the sky first if there is one), and maybe a road or a blob.

    Returns:
        tuple: the (h, w) uint8 label map, the classes in it (in the order
        their textures are drawn) and the horizon row (None without sky).
    """
    n_classes = int(rng.integers(2, 5))
    has_sky = bool(rng.random() < 0.8)
    classes = ([SKY] if has_sky else []) + \
        [int(c) for c in rng.permutation([GRASS, WATER, ROAD])]
    classes = classes[:n_classes]
    patch = None      # the last ground class may be a road / a blob
    if (len(classes) >= 3 or not has_sky) and rng.random() < 0.5:
        patch = classes.pop()
    if has_sky:
        horizon = rng.uniform(0.25, 0.6) * h
        cuts = [horizon] + sorted(
            rng.uniform(horizon + 0.08 * h, 0.9 * h, len(classes) - 2))
    else:
        horizon = None
        cuts = sorted(rng.uniform(0.2 * h, 0.8 * h, len(classes) - 1))
    labels = np.full((h, w), classes[-1], np.uint8)
    rows = np.arange(h, dtype=np.float32)[:, None]
    lines = [_wavy_line(c, w, h, rng, amp=0.06) for c in cuts]
    for cls, line in reversed(list(zip(classes[:-1], lines))):
        labels[rows < line[None, :]] = cls
    if patch is not None:
        _add_patch(labels, patch, horizon, rng)
        classes.append(patch)
    return labels, classes, horizon


def _add_patch(labels: np.ndarray, patch: int, horizon, rng) -> None:
    """Paint a road (to the horizon) or a blob of class ``patch`` over the
    ground of ``labels`` (never over the sky)."""
    h, w = labels.shape
    shape = np.zeros((h, w), np.uint8)
    top = horizon if horizon is not None else rng.uniform(0.0, 0.4) * h
    if patch == ROAD:
        _fill(shape, _road_polygon(h, w, top, rng))
    else:
        _fill(shape, _blob_polygon(h, w, top, rng))
    labels[(shape > 0) & (labels != SKY)] = patch


def _background(h: int, w: int,
                rng) -> Tuple[np.ndarray, np.ndarray, Optional[float]]:
    """The stuff regions: float RGB image, uint8 label map and the
    horizon row (None without sky)."""
    labels, classes, horizon = _stuff_layout(h, w, rng)
    img = np.zeros((h, w, 3), np.float32)
    for cls in classes:
        texture = stuff_texture(cls, h, w, rng)
        m = labels == cls
        img[m] = texture[m]
    return img, labels, horizon


def _polygon_shape(cls: int, size: float, angle: float,
                   rng) -> Tuple[np.ndarray, np.ndarray]:
    """Vertex angles and radii of a square, triangle or star."""
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
    return ang, radii


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
    ang, radii = _polygon_shape(cls, size, angle, rng)
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


def _label_visible_parts(seg: np.ndarray, owner: np.ndarray,
                         objects: List[dict]) -> None:
    """Each object's visible ``mask`` and whether it is ``annotated``;
    its visible pixels in ``seg``: its class, or ignored if dropped."""
    for idx, obj in enumerate(objects):
        visible = owner == idx
        n_visible = int(visible.sum())
        obj['mask'] = visible
        obj['annotated'] = (
            n_visible >= MIN_VISIBLE_PX and
            n_visible >= MIN_VISIBLE_FRACTION * int(obj['full'].sum()))
        seg[visible] = (len(STUFF_CLASSES) + obj['category_id'] - 1
                        if obj['annotated'] else IGNORE_INDEX)


def _camera(img: np.ndarray, rng) -> np.ndarray:
    """Illumination and white balance, slight blur, sensor noise; uint8."""
    img = img * rng.uniform(0.85, 1.15) + rng.uniform(-8, 8, 3)
    img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.4, 0.9))
    img += rng.normal(0, rng.uniform(2.5, 7), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


class Scene(NamedTuple):
    """A rendered scene.

    ``img``: the (h, w, 3) uint8 RGB image; ``seg``: the (h, w) uint8 seg
    label map; ``objects``: for every object drawn, in z-order,
    ``dict(category_id, full, mask, annotated)`` with ``full`` its whole
    mask within the image, ``mask`` its visible part, ``annotated`` whether
    it is kept for detection (if not, its visible pixels are
    ``IGNORE_INDEX`` in ``seg``); ``depth``: the (h, w) float64 depth map in
    metres, 0 where there is none (sky), see :mod:`.depth`.
    """
    img: np.ndarray
    seg: np.ndarray
    objects: List[dict]
    depth: np.ndarray


def render_scene(h: int, w: int, rng) -> Scene:
    """Render one scene with generator ``rng``."""
    img, seg, horizon = _background(h, w, rng)
    owner = np.full((h, w), -1, np.int16)
    objects = []
    for _ in range(int(rng.integers(1, 7))):
        cls = int(rng.integers(0, len(DET_CLASSES)))
        full = _object_mask(cls, h, w, rng)
        _paint_object(img, full, cls, rng)
        owner[full] = len(objects)
        objects.append(dict(category_id=cls + 1, full=full))
    depth = scene_depth(seg, objects, horizon)   # seg: stuff only so far
    _label_visible_parts(seg, owner, objects)
    return Scene(_camera(img, rng), seg, objects, depth)
