"""The textures of the four stuff classes (sky, grass, water, road).

Each class has a base colour and a texture of its own, both jittered per
image by the scene's random generator; the order of the draws is part of
the dataset (the same seed gives the same bytes).
"""
import cv2
import numpy as np

SKY, GRASS, WATER, ROAD = range(4)


def smooth_noise(h: int, w: int, rng, cells: int) -> np.ndarray:
    """Smooth noise, roughly in [-1, 1], varying over ``cells`` cells."""
    grid = rng.uniform(-1, 1, (cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _sky(yy, xx, jitter, rng) -> np.ndarray:
    """A smooth vertical gradient, sometimes with soft clouds."""
    h, w = yy.shape
    top = np.array([80, 140, 225], np.float32) + jitter
    bottom = np.array([185, 215, 245], np.float32) + jitter
    t = (yy / max(h - 1, 1))[..., None] ** rng.uniform(0.7, 1.4)
    img = top * (1 - t) + bottom * t
    if rng.random() < 0.5:
        c = smooth_noise(h, w, rng, int(rng.integers(3, 7)))
        thr = rng.uniform(0.1, 0.5)
        cloud = np.clip((c - thr) / (1 - thr), 0, 1)[..., None] * 0.8
        img = img * (1 - cloud) + 240 * cloud
    return img + rng.normal(0, 1.5, (h, w, 1))


def _grass(yy, xx, jitter, rng) -> np.ndarray:
    """Green, high-frequency noise with vertical blades."""
    h, w = yy.shape
    base = np.array([55, 140, 45], np.float32) + jitter
    n = rng.normal(0, 1, (h, w)).astype(np.float32)
    blades = cv2.GaussianBlur(n, (1, 7), 0) * 1.6
    tex = 0.5 * n + blades
    img = base + tex[..., None] * np.array([11, 20, 9], np.float32)
    return img + 12 * smooth_noise(h, w, rng, 3)[..., None]


def _water(yy, xx, jitter, rng) -> np.ndarray:
    """Blue with wavy sinusoidal ripples."""
    h, w = yy.shape
    base = np.array([35, 85, 170], np.float32) + jitter
    tilt = rng.uniform(-0.3, 0.3)
    f = rng.uniform(0.3, 0.8)
    v = yy * np.cos(tilt) + xx * np.sin(tilt)
    wave = np.sin(f * v + rng.uniform(1, 4) *
                  np.sin(rng.uniform(0.05, 0.2) * xx + rng.uniform(0, 7))
                  + rng.uniform(0, 7))
    img = base + rng.uniform(15, 30) * wave[..., None] * \
        np.array([0.7, 0.9, 1.0], np.float32)
    return img + rng.normal(0, 2, (h, w, 1))


def _road(yy, xx, jitter, rng) -> np.ndarray:
    """Grey asphalt with speckles (its own colour jitter, not ``jitter``)."""
    h, w = yy.shape
    grey = rng.uniform(90, 130)
    base = grey + rng.uniform(-6, 6, 3).astype(np.float32)
    speck = (rng.random((h, w)) < rng.uniform(0.04, 0.1)) * \
        rng.normal(0, 45, (h, w))
    return base + (speck + rng.normal(0, 4, (h, w)))[..., None]


_TEXTURES = {SKY: _sky, GRASS: _grass, WATER: _water, ROAD: _road}


def stuff_texture(cls: int, h: int, w: int, rng) -> np.ndarray:
    """An (h, w, 3) float32 RGB image of stuff class ``cls``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    jitter = rng.uniform(-20, 20, 3).astype(np.float32)
    return _TEXTURES[cls](yy, xx, jitter, rng).astype(np.float32)
