"""A deterministic synthetic multi-task dataset, written as real ones are.

Written as::

    meta.json                          class lists, palettes, generation args
    annotations/instances_{split}.json COCO instances (category ids 1..4) of
                                       the *visible* part of every object:
                                       tight box, pixel area, RLE mask; plus
                                       a top-level "seg_classes" list
    images/{split}/NNNNNN.jpg          RGB images (JPEG quality 95)
    seg_maps/{split}/NNNNNN.png        uint8 label ids: stuff 0..3, objects
                                       4..7, 255 (ignore)
    depth_maps/{split}/NNNNNN.png      (with depth=True) uint16 depth in mm,
                                       0 where none (sky); see .depth

The parts, one file each: :mod:`.meta` (classes, palettes, arguments),
:mod:`.textures`, :mod:`.scene` and :mod:`.depth` (rendering one scene,
see there),
:mod:`.writer` (the files), :mod:`.folder_lock` (whole-or-nothing writing,
one writer at a time) and :mod:`.cache` (generated on first use, kept while
it matches). Each image comes from a generator seeded with
``(seed, split, index)``: the same arguments give the same bytes.
"""
from .cache import ensure_synthetic_dataset
from .meta import (DET_CLASSES, DET_PALETTE, IGNORE_INDEX, SEG_CLASSES,
                   SEG_PALETTE, SPLITS, STUFF_CLASSES, VERSION)
from .depth import DEPTH_PNG_SCALE, MAX_DEPTH_M
from .scene import (MIN_VISIBLE_FRACTION, MIN_VISIBLE_PX, Scene,
                    render_scene, scene_rng)
from .writer import generate_synthetic_dataset

__all__ = [
    'DEPTH_PNG_SCALE', 'MAX_DEPTH_M', 'Scene', 'DET_CLASSES', 'DET_PALETTE', 'IGNORE_INDEX', 'MIN_VISIBLE_FRACTION',
    'MIN_VISIBLE_PX', 'SEG_CLASSES', 'SEG_PALETTE', 'SPLITS', 'STUFF_CLASSES',
    'VERSION', 'ensure_synthetic_dataset', 'generate_synthetic_dataset',
    'render_scene', 'scene_rng'
]
