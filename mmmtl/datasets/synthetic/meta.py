"""What a synthetic dataset is: its classes, palettes, splits, version, and
the arguments that define one (its ``meta.json``)."""
from typing import Sequence, Tuple, Union

import numpy as np

from .depth import DEPTH_PNG_SCALE

DET_CLASSES = ('circle', 'square', 'triangle', 'star')
STUFF_CLASSES = ('sky', 'grass', 'water', 'road')
SEG_CLASSES = STUFF_CLASSES + DET_CLASSES
SEG_PALETTE = [(135, 206, 235), (34, 139, 34), (30, 80, 160), (110, 110, 110),
               (220, 20, 60), (255, 215, 0), (186, 85, 211), (255, 140, 0)]
DET_PALETTE = SEG_PALETTE[len(STUFF_CLASSES):]
IGNORE_INDEX = 255
SPLITS = ('train', 'val')
# Bump when the scenes change: ensure_synthetic_dataset() then regenerates.
VERSION = 2


def dataset_meta(num_train: int, num_val: int, img_size: Tuple[int, int],
                 seed: int, depth: bool = False) -> dict:
    """The ``meta.json`` of the dataset of these (checked) arguments;
    ``depth_png_scale`` only when depth maps are written."""
    if not isinstance(depth, (bool, np.bool_)):
        raise TypeError(f'synthetic dataset: depth must be True or False, '
                        f'got {depth!r}')
    meta = dict(det_classes=list(DET_CLASSES), seg_classes=list(SEG_CLASSES),
                seg_palette=[list(c) for c in SEG_PALETTE],
                det_palette=[list(c) for c in DET_PALETTE],
                num_train=num_train, num_val=num_val,
                img_size=list(img_size), seed=seed, version=VERSION)
    if depth:
        meta['depth_png_scale'] = DEPTH_PNG_SCALE
    return meta


def _as_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or \
            not isinstance(value, (int, np.integer)):
        raise TypeError(f'synthetic dataset: {name} must be an int, got '
                        f'{value!r}')
    return int(value)


def _as_size(img_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
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
    return h, w


def check_args(num_train, num_val, img_size,
               seed) -> Tuple[int, int, Tuple[int, int], int]:
    """Validated ``(num_train, num_val, (h, w), seed)``; ``img_size`` may
    be one int (a square)."""
    num_train = _as_int('num_train', num_train)
    num_val = _as_int('num_val', num_val)
    seed = _as_int('seed', seed)
    size = _as_size(img_size)
    if num_train < 1 or num_val < 1:
        raise ValueError(f'synthetic dataset: num_train and num_val must be '
                         f'at least 1, got {num_train} and {num_val}')
    if seed < 0:
        raise ValueError(f'synthetic dataset: seed must be >= 0, got {seed}')
    return num_train, num_val, size, seed
