"""Helpers shared by the dataset converters of this folder.

The converters import this module as a sibling (``from _converter_utils
import ...``); each converter puts its own folder on ``sys.path`` first, so
they run as plain scripts (``python tools/dataset_converters/X.py``) and can
be loaded from their file by the tests.
"""
import json
import multiprocessing
import os
import os.path as osp
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

IGNORE_INDEX = 255


class LayoutError(FileNotFoundError):
    """The input folder does not have the dataset's original layout."""


def layout_error(msg: str, layout: Optional[str] = None) -> LayoutError:
    """A :class:`LayoutError` saying ``msg`` and, if given, the expected
    input layout."""
    if layout:
        msg += f'\nexpected input layout:\n{layout}'
    return LayoutError(msg)


def require(path: str, what: str, layout: Optional[str] = None) -> str:
    """Return ``path`` if it exists, else raise a :class:`LayoutError`
    that names it (and, if given, the expected layout)."""
    if not osp.exists(path):
        raise layout_error(f'{what} not found: {path}', layout)
    return path


def normalize_splits(splits) -> List[str]:
    if isinstance(splits, str):
        splits = [s for s in splits.replace(',', ' ').split() if s]
    splits = list(splits)
    if not splits:
        raise ValueError('no split given')
    return splits


def parallel_map(func: Callable, items: Sequence, nproc: int = 1,
                 desc: str = '', progress: bool = False) -> list:
    """``[func(x) for x in items]``, on ``nproc`` processes when > 1.

    Results keep the order of ``items``. Uses the 'fork' start method where
    the platform has it, so that ``func`` may live in a module loaded from a
    file path (as the tests do).
    """
    items = list(items)
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(items), desc=desc, unit='img')
        except ImportError:  # pragma: no cover
            bar = None
    results = []
    if nproc <= 1 or len(items) <= 1:
        for item in items:
            results.append(func(item))
            if bar is not None:
                bar.update(1)
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context(
            'fork' if 'fork' in methods else None)
        chunksize = max(1, min(16, len(items) // (4 * nproc)))
        with ctx.Pool(min(nproc, len(items))) as pool:
            for res in pool.imap(func, items, chunksize=chunksize):
                results.append(res)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    return results


def sum_counts(counts: Iterable[dict], keys: Sequence[str]) -> dict:
    """``{key: sum of count[key] over counts}`` for the given ``keys`` (in
    this order; each count may only hold keys of ``keys``)."""
    totals = dict.fromkeys(keys, 0)
    for count in counts:
        for key, value in count.items():
            totals[key] += value
    return totals


def image_hw(path: str) -> Tuple[int, int]:
    """(height, width) of an image, from its header only."""
    with Image.open(path) as img:
        w, h = img.size
    return h, w


def read_png(path: str) -> np.ndarray:
    """Read a PNG unchanged (like mmdet's seg-map loader does)."""
    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError(f'cannot read image file {path}')
    return arr


def write_label_png(path: str, label: np.ndarray) -> None:
    """Write a single-channel uint8 label map as a PNG."""
    assert label.ndim == 2 and label.dtype == np.uint8, label.shape
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    if not cv2.imwrite(path, label):
        raise OSError(f'cannot write {path}')


def label_map_problem(arr: Optional[np.ndarray], hw: Tuple[int, int],
                      num_classes: int) -> Optional[str]:
    """Why ``arr`` is not a valid semantic map for an image of size ``hw``
    with label ids ``0..num_classes-1`` and 255 (None if it is valid)."""
    if arr is None:
        return 'unreadable'
    if arr.ndim != 2 or arr.dtype != np.uint8:
        return (f'not a single-channel uint8 map (shape {arr.shape}, '
                f'dtype {arr.dtype})')
    if tuple(arr.shape) != tuple(hw):
        return (f'size {arr.shape[0]}x{arr.shape[1]} (HxW) differs from '
                f'the image size {hw[0]}x{hw[1]}')
    values = np.unique(arr)
    bad = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if bad.size:
        return (f'has label ids {bad.tolist()} outside 0..{num_classes - 1} '
                f'and {IGNORE_INDEX}')
    return None


def existing_label_map_ok(path: str, hw: Tuple[int, int],
                          num_classes: int) -> bool:
    """Whether ``path`` already holds a valid semantic map (reusable)."""
    if not osp.isfile(path):
        return False
    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return label_map_problem(arr, hw, num_classes) is None


def make_lut(mapping: dict, default: int = IGNORE_INDEX,
             size: int = 256) -> np.ndarray:
    """A lookup table ``lut[src_id] = train_id`` (``default`` elsewhere)."""
    lut = np.full(size, default, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut


def mask_bbox(mask: np.ndarray) -> List[int]:
    """Tight COCO box ``[x, y, w, h]`` of a binary mask's pixels: ``w`` and
    ``h`` count pixels (``x_max - x_min + 1``), as ``pycocotools`` does."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    x0, x1, y0, y1 = int(xs[0]), int(xs[-1]), int(ys[0]), int(ys[-1])
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE (JSON-serialisable) of a binary mask."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def dump_json(obj: dict, path: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def load_json(path: str):
    with open(path) as f:
        return json.load(f)


def first_few(paths: Iterable[str], n: int = 5) -> str:
    paths = list(paths)
    text = ', '.join(paths[:n])
    if len(paths) > n:
        text += f', ... ({len(paths)} in all)'
    return text
