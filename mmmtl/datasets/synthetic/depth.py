"""The depth of a synthetic scene: layered objects over a receding ground.

A pinhole camera with a level optical axis and a focal length of ``h``
pixels (the image height) stands ``CAMERA_HEIGHT_M`` above a flat ground.
The ground seen at row ``y`` (pixel centre ``y + 0.5``) below the horizon
row ``y_h`` is at depth::

    z(y) = h * CAMERA_HEIGHT_M / (y + 0.5 - y_h)      (metres)

capped at ``MAX_DEPTH_M`` (the ground near and above the horizon). The
horizon is the sky's lower boundary (its mean row); a scene without sky
has it ``NO_SKY_HORIZON`` image heights above the top edge. Grass, water
and road are regions of the ground; the sky has no depth (0, "invalid",
as in real depth data). An object is an upright cut-out facing the camera
at one depth: ``NEAR_FACTOR`` times the ground's depth at its lowest row
(it stands in front of the ground behind it) and ``NEAR_FACTOR`` times the
depth of any object drawn before it that it overlaps (it occludes them), so
that depth agrees with the drawing order.

The depth is a function of the scene's layout only: it draws nothing from
the scene's random generator, so the images are the same bytes with or
without depth maps.
"""
from typing import List, Optional

import numpy as np

from .textures import SKY

CAMERA_HEIGHT_M = 1.5
MAX_DEPTH_M = 50.0
NO_SKY_HORIZON = 0.3
NEAR_FACTOR = 0.9
#: depth PNG value per metre: uint16 millimetres (0: no depth)
DEPTH_PNG_SCALE = 1000


def ground_depth(rows: np.ndarray, h: int, horizon: float) -> np.ndarray:
    """Depth (m) of the ground seen at ``rows`` below ``horizon``."""
    below = rows + 0.5 - horizon
    z = h * CAMERA_HEIGHT_M / np.maximum(below, 1e-6)
    return np.where(below > 0, np.minimum(z, MAX_DEPTH_M), MAX_DEPTH_M)


def _object_depths(objects: List[dict], h: int,
                   horizon: float) -> List[float]:
    """One depth per object, in drawing order (see the module doc)."""
    depths = []
    for k, obj in enumerate(objects):
        lowest = np.nonzero(obj['full'].any(axis=1))[0].max()
        z = float(ground_depth(np.array([lowest]), h, horizon)[0])
        for j in range(k):
            if (obj['full'] & objects[j]['full']).any():
                z = min(z, depths[j])
        depths.append(NEAR_FACTOR * z)
    return depths


def scene_depth(stuff: np.ndarray, objects: List[dict],
                horizon: Optional[float]) -> np.ndarray:
    """The (h, w) float64 depth map (m; 0 = none) of a scene.

    Args:
        stuff: The stuff label map (before the objects are drawn).
        objects: The objects in drawing order, each with its ``full`` mask.
        horizon: The sky's lower boundary row; None without sky.
    """
    h = stuff.shape[0]
    if horizon is None:
        horizon = -NO_SKY_HORIZON * h
    rows = np.arange(h, dtype=np.float64)[:, None]
    depth = np.broadcast_to(ground_depth(rows, h, horizon),
                            stuff.shape).copy()
    depth[stuff == SKY] = 0.0
    for obj, z in zip(objects, _object_depths(objects, h, horizon)):
        depth[obj['full']] = z
    return depth


def depth_png(depth: np.ndarray) -> np.ndarray:
    """A depth map (m) as the uint16 PNG array (``DEPTH_PNG_SCALE``)."""
    return np.round(depth * DEPTH_PNG_SCALE).astype(np.uint16)
