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

The parts, one file each: :mod:`.meta` (classes, palettes, arguments),
:mod:`.textures` and :mod:`.scene` (rendering one scene, see there),
:mod:`.writer` (the files), :mod:`.folder_lock` (whole-or-nothing writing,
one writer at a time) and :mod:`.cache` (generated on first use, kept while
it matches). Each image comes from a generator seeded with
``(seed, split, index)``: the same arguments give the same bytes.
"""
from .cache import ensure_synthetic_dataset
from .meta import (DET_CLASSES, DET_PALETTE, IGNORE_INDEX, SEG_CLASSES,
                   SEG_PALETTE, SPLITS, STUFF_CLASSES, VERSION)
from .scene import (MIN_VISIBLE_FRACTION, MIN_VISIBLE_PX, render_scene,
                    scene_rng)
from .writer import generate_synthetic_dataset

__all__ = [
    'DET_CLASSES', 'DET_PALETTE', 'IGNORE_INDEX', 'MIN_VISIBLE_FRACTION',
    'MIN_VISIBLE_PX', 'SEG_CLASSES', 'SEG_PALETTE', 'SPLITS', 'STUFF_CLASSES',
    'VERSION', 'ensure_synthetic_dataset', 'generate_synthetic_dataset',
    'render_scene', 'scene_rng'
]
