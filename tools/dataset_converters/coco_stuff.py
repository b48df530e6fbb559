"""Add semantic maps to COCO 2017 for mmmtl: COCO-Stuff or COCO panoptic.

Input (the original layout)::

    ROOT/{split}2017/*.jpg
    ROOT/annotations/instances_{split}2017.json
    # --source stuffthingmaps (COCO-Stuff: stuffthingmaps_trainval2017.zip)
    ROOT/stuffthingmaps_trainval2017/{split}2017/{image stem}.png
    # --source panoptic (panoptic_annotations_trainval2017.zip)
    ROOT/annotations/panoptic_{split}2017.json
    ROOT/annotations/panoptic_{split}2017/{image stem}.png

Output::

    OUT_DIR/instances_{split}2017_mmmtl.json   (OUT_DIR: ROOT/annotations)
    # stuffthingmaps: SEG_ROOT defaults to ROOT/stuffthingmaps_trainval2017
    SEG_ROOT/{split}2017/{image stem}_labelTrainIds.png
    # panoptic: SEG_ROOT defaults to ROOT/panoptic_semseg
    SEG_ROOT/{split}2017/{image stem}.png

The JSON is the instances JSON unchanged (80 thing categories, boxes, masks)
with ``seg_file_name`` added to every image that has a semantic map and a
top-level ``seg_classes``. Images without a map get no ``seg_file_name``
(reported as ``images_without_seg``).

``stuffthingmaps``: the PNG values are COCO-Stuff category id - 1 (0..181;
things 0..90, stuff 91..181) and 255 = unlabeled. They are mapped to 171
contiguous train ids, the same mapping as mmseg's coco_stuff converter:
the 80 thing ids in increasing order -> 0..79, the 91 stuff ids 92..182
(values 91..181) -> 80..170; the 11 unused thing ids (12, 26, 29, 30, 45, 66,
68, 69, 71, 83, 91, i.e. values 11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90),
'other' (183) and anything else -> 255. ``seg_classes`` = the instances
JSON's 80 category names then the 91 COCO-Stuff stuff names.

``panoptic``: a PNG pixel's segment id is ``R + 256 G + 256^2 B``; the
segment's ``category_id`` (from ``segments_info``) is mapped to its position
in the panoptic JSON's ``categories`` list (133 classes: 80 things then 53
stuff), which gives ``seg_classes``. Segment id 0 (void) and ids missing from
``segments_info`` -> 255. Crowd segments keep their category.

An existing map that is valid (single channel uint8, image size, ids in
range) is reused unless ``--overwrite``.

Usage::

    python tools/dataset_converters/coco_stuff.py --root data/coco \
        --source stuffthingmaps|panoptic [--out-dir DIR] \
        [--splits train val] [--nproc 8] [--overwrite] [--seg-root DIR]
"""
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _converter_cli import (add_nproc_arg, converter_parser,  # noqa: E402
                            run_converter)
from _converter_utils import (IGNORE_INDEX, dump_json,  # noqa: E402
                              existing_label_map_ok, load_json, make_lut,
                              normalize_splits, parallel_map, require,
                              sum_counts, write_label_png)

# COCO's 80 thing categories (id, name) as in instances_*2017.json.
COCO_THING_CLASSES = [
    (1, 'person'), (2, 'bicycle'), (3, 'car'), (4, 'motorcycle'),
    (5, 'airplane'), (6, 'bus'), (7, 'train'), (8, 'truck'), (9, 'boat'),
    (10, 'traffic light'), (11, 'fire hydrant'), (13, 'stop sign'),
    (14, 'parking meter'), (15, 'bench'), (16, 'bird'), (17, 'cat'),
    (18, 'dog'), (19, 'horse'), (20, 'sheep'), (21, 'cow'),
    (22, 'elephant'), (23, 'bear'), (24, 'zebra'), (25, 'giraffe'),
    (27, 'backpack'), (28, 'umbrella'), (31, 'handbag'), (32, 'tie'),
    (33, 'suitcase'), (34, 'frisbee'), (35, 'skis'), (36, 'snowboard'),
    (37, 'sports ball'), (38, 'kite'), (39, 'baseball bat'),
    (40, 'baseball glove'), (41, 'skateboard'), (42, 'surfboard'),
    (43, 'tennis racket'), (44, 'bottle'), (46, 'wine glass'), (47, 'cup'),
    (48, 'fork'), (49, 'knife'), (50, 'spoon'), (51, 'bowl'),
    (52, 'banana'), (53, 'apple'), (54, 'sandwich'), (55, 'orange'),
    (56, 'broccoli'), (57, 'carrot'), (58, 'hot dog'), (59, 'pizza'),
    (60, 'donut'), (61, 'cake'), (62, 'chair'), (63, 'couch'),
    (64, 'potted plant'), (65, 'bed'), (67, 'dining table'), (70, 'toilet'),
    (72, 'tv'), (73, 'laptop'), (74, 'mouse'), (75, 'remote'),
    (76, 'keyboard'), (77, 'cell phone'), (78, 'microwave'), (79, 'oven'),
    (80, 'toaster'), (81, 'sink'), (82, 'refrigerator'), (84, 'book'),
    (85, 'clock'), (86, 'vase'), (87, 'scissors'), (88, 'teddy bear'),
    (89, 'hair drier'), (90, 'toothbrush'),
]
# COCO-Stuff's 91 stuff categories, ids 92..182 in this order.
COCO_STUFF_CLASSES = [
    'banner', 'blanket', 'branch', 'bridge', 'building-other', 'bush',
    'cabinet', 'cage', 'cardboard', 'carpet', 'ceiling-other',
    'ceiling-tile', 'cloth', 'clothes', 'clouds', 'counter', 'cupboard',
    'curtain', 'desk-stuff', 'dirt', 'door-stuff', 'fence', 'floor-marble',
    'floor-other', 'floor-stone', 'floor-tile', 'floor-wood', 'flower',
    'fog', 'food-other', 'fruit', 'furniture-other', 'grass', 'gravel',
    'ground-other', 'hill', 'house', 'leaves', 'light', 'mat', 'metal',
    'mirror-stuff', 'moss', 'mountain', 'mud', 'napkin', 'net', 'paper',
    'pavement', 'pillow', 'plant-other', 'plastic', 'platform',
    'playingfield', 'railing', 'railroad', 'river', 'road', 'rock', 'roof',
    'rug', 'salad', 'sand', 'sea', 'shelf', 'sky-other', 'skyscraper',
    'snow', 'solid-other', 'stairs', 'stone', 'straw', 'structural-other',
    'table', 'tent', 'textile-other', 'towel', 'tree', 'vegetable',
    'wall-brick', 'wall-concrete', 'wall-other', 'wall-panel', 'wall-stone',
    'wall-tile', 'wall-wood', 'water-other', 'waterdrops', 'window-blind',
    'window-other', 'wood',
]
assert len(COCO_THING_CLASSES) == 80 and len(COCO_STUFF_CLASSES) == 91
STUFF_FIRST_ID = 92

# stuffthingmaps PNG value (= category id - 1) -> train id 0..170.
STUFFTHING_VALUE_TO_TRAIN_ID = {
    cat_id - 1: train_id
    for train_id, cat_id in enumerate(
        [c for c, _ in COCO_THING_CLASSES] +
        list(range(STUFF_FIRST_ID, STUFF_FIRST_ID + len(COCO_STUFF_CLASSES))))
}
STUFFTHING_LUT = make_lut(STUFFTHING_VALUE_TO_TRAIN_ID)

SOURCES = ('stuffthingmaps', 'panoptic')
# Where the semantic maps go by default (SEG_ROOT), under ROOT.
DEFAULT_SEG_DIRS = dict(stuffthingmaps='stuffthingmaps_trainval2017',
                        panoptic='panoptic_semseg')
# What writing one map counts (summed over a split in the summary).
MAP_STATS = ('seg_reused', 'seg_written', 'unknown_segment_pixels')

LAYOUT = """\
  ROOT/{split}2017/*.jpg
  ROOT/annotations/instances_{split}2017.json
  --source stuffthingmaps:
    ROOT/stuffthingmaps_trainval2017/{split}2017/{image stem}.png
  --source panoptic:
    ROOT/annotations/panoptic_{split}2017.json
    ROOT/annotations/panoptic_{split}2017/{image stem}.png"""


def _read_indexed_png(path: str) -> np.ndarray:
    # PIL gives palette indices for mode 'P' and the values for mode 'L'.
    with Image.open(path) as img:
        if img.mode not in ('L', 'P'):
            raise ValueError(
                f'{path}: expected a single-channel label PNG, got mode '
                f'{img.mode}')
        return np.array(img)


def _check_hw(arr: np.ndarray, hw, path: str, image: str) -> None:
    if tuple(arr.shape[:2]) != tuple(hw):
        raise ValueError(
            f'{path} is {arr.shape[0]}x{arr.shape[1]} (HxW) but its image '
            f'{image} is {hw[0]}x{hw[1]} in the instances JSON')


def convert_stuffthing_map(task: dict) -> dict:
    """Remap one stuffthingmaps PNG to train ids 0..170 / 255."""
    if not task['overwrite'] and existing_label_map_ok(
            task['dst'], task['hw'], task['num_classes']):
        return dict(seg_reused=1, seg_written=0, unknown_segment_pixels=0)
    src = _read_indexed_png(task['src'])
    _check_hw(src, task['hw'], task['src'], task['image'])
    write_label_png(task['dst'], STUFFTHING_LUT[src])
    return dict(seg_reused=0, seg_written=1, unknown_segment_pixels=0)


def convert_panoptic_map(task: dict) -> dict:
    """Turn one RGB-encoded panoptic PNG into a semantic map."""
    if not task['overwrite'] and existing_label_map_ok(
            task['dst'], task['hw'], task['num_classes']):
        return dict(seg_reused=1, seg_written=0, unknown_segment_pixels=0)
    with Image.open(task['src']) as img:
        rgb = np.array(img.convert('RGB'), dtype=np.uint32)
    _check_hw(rgb, task['hw'], task['src'], task['image'])
    seg_ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
    uniq, inverse = np.unique(seg_ids, return_inverse=True)
    id2train = dict(task['segments'])
    lut = np.array([id2train.get(int(u), IGNORE_INDEX) for u in uniq],
                   dtype=np.uint8)
    unknown = [i for i, u in enumerate(uniq.tolist())
               if u != 0 and u not in id2train]
    unknown_pixels = int(np.isin(inverse, unknown).sum()) if unknown else 0
    write_label_png(task['dst'], lut[inverse.reshape(seg_ids.shape)])
    return dict(seg_reused=0, seg_written=1,
                unknown_segment_pixels=unknown_pixels)


def _check_thing_categories(instances: dict, ann_path: str) -> None:
    ids = sorted(c['id'] for c in instances.get('categories', []))
    expected = [c for c, _ in COCO_THING_CLASSES]
    if ids != expected:
        raise ValueError(
            f'{ann_path}: the stuffthingmaps train ids assume the 80 COCO '
            f'thing categories (ids {expected[0]}..{expected[-1]}), got '
            f'{len(ids)} categories with ids {ids[:10]}...')


def split_sources(root: str, split: str,
                  source: str) -> Tuple[str, str, Optional[str]]:
    """The instances JSON, the folder of source PNGs and (panoptic only)
    the panoptic JSON of a split (``split`` without '2017'), each checked to
    exist, as is the image folder."""
    tag = f'{split}2017'
    require(osp.join(root, tag), f'COCO image folder of split {split!r}',
            LAYOUT)
    ann_path = require(
        osp.join(root, 'annotations', f'instances_{tag}.json'),
        f'COCO instances file of split {split!r}', LAYOUT)
    if source == 'stuffthingmaps':
        src_dir = require(
            osp.join(root, 'stuffthingmaps_trainval2017', tag),
            f'COCO-Stuff stuffthingmaps folder of split {split!r}', LAYOUT)
        return ann_path, src_dir, None
    pan_json = require(
        osp.join(root, 'annotations', f'panoptic_{tag}.json'),
        f'COCO panoptic file of split {split!r}', LAYOUT)
    src_dir = require(
        osp.join(root, 'annotations', f'panoptic_{tag}'),
        f'COCO panoptic PNG folder of split {split!r}', LAYOUT)
    return ann_path, src_dir, pan_json


def stuffthing_tasks(instances: dict, ann_path: str,
                     src_dir: str) -> Tuple[List[str], list]:
    """``seg_classes`` and, per image with a stuffthingmaps PNG, ``(image
    entry, PNG path, seg_file_name, None)``."""
    _check_thing_categories(instances, ann_path)
    cats = sorted(instances['categories'], key=lambda c: c['id'])
    seg_classes = [c['name'] for c in cats] + COCO_STUFF_CLASSES
    tasks = []
    for img in instances['images']:
        stem = osp.splitext(img['file_name'])[0]
        src = osp.join(src_dir, stem + '.png')
        if osp.isfile(src):
            tasks.append((img, src, f'{stem}_labelTrainIds.png', None))
    return seg_classes, tasks


def panoptic_segments(pan: dict, img_id: int, cat2train: dict,
                      pan_json: str) -> List[Tuple[int, int]]:
    """``(segment id, train id)`` of one panoptic annotation's segments."""
    segments = []
    for s in pan['segments_info']:
        if s['category_id'] not in cat2train:
            raise ValueError(
                f'{pan_json}: segment {s["id"]} of image {img_id} has '
                f'category {s["category_id"]} that is not in its categories')
        segments.append((s['id'], cat2train[s['category_id']]))
    return segments


def panoptic_tasks(instances: dict, pan_json: str,
                   src_dir: str) -> Tuple[List[str], list]:
    """``seg_classes`` and, per image with a panoptic PNG, ``(image entry,
    PNG path, seg_file_name, [(segment id, train id), ...])``."""
    panoptic = load_json(pan_json)
    seg_classes = [c['name'] for c in panoptic['categories']]
    cat2train = {c['id']: i for i, c in enumerate(panoptic['categories'])}
    by_image = {a['image_id']: a for a in panoptic['annotations']}
    tasks = []
    for img in instances['images']:
        pan = by_image.get(img['id'])
        if pan is None:
            continue
        src = osp.join(src_dir, pan['file_name'])
        if not osp.isfile(src):
            continue
        segments = panoptic_segments(pan, img['id'], cat2train, pan_json)
        stem = osp.splitext(img['file_name'])[0]
        tasks.append((img, src, f'{stem}.png', segments))
    return seg_classes, tasks


def write_seg_maps(tasks: list, source: str, dst_dir: str, num_classes: int,
                   overwrite: bool = False, nproc: int = 1, desc: str = '',
                   progress: bool = False) -> dict:
    """Write (or reuse) the semantic map of every task under ``dst_dir``;
    returns the summed :data:`MAP_STATS`."""
    work = [dict(src=src, dst=osp.join(dst_dir, seg_name),
                 hw=(img['height'], img['width']), image=img['file_name'],
                 segments=segments, overwrite=overwrite,
                 num_classes=num_classes)
            for img, src, seg_name, segments in tasks]
    func = (convert_stuffthing_map if source == 'stuffthingmaps' else
            convert_panoptic_map)
    results = parallel_map(func, work, nproc, desc=desc, progress=progress)
    return sum_counts(results, MAP_STATS)


def write_instances_with_seg(instances: dict, tasks: list,
                             seg_classes: List[str], out_file: str) -> None:
    """Write the instances JSON with ``seg_file_name`` added to the images
    of ``tasks`` and a top-level ``seg_classes``."""
    for img, _, seg_name, _ in tasks:
        img['seg_file_name'] = seg_name
    instances['seg_classes'] = seg_classes
    dump_json(instances, out_file)


def convert_split(root: str, split: str, source: str, out_dir: str,
                  seg_root: str, nproc: int = 1, overwrite: bool = False,
                  progress: bool = False) -> dict:
    """Convert one split (``split`` without '2017'); returns its summary."""
    tag = f'{split}2017'
    ann_path, src_dir, pan_json = split_sources(root, split, source)
    instances = load_json(ann_path)
    if source == 'stuffthingmaps':
        seg_classes, tasks = stuffthing_tasks(instances, ann_path, src_dir)
    else:
        seg_classes, tasks = panoptic_tasks(instances, pan_json, src_dir)
    dst_dir = osp.join(seg_root, tag)
    totals = write_seg_maps(tasks, source, dst_dir, len(seg_classes),
                            overwrite, nproc, f'coco {tag}', progress)
    out_file = osp.join(out_dir, f'instances_{tag}_mmmtl.json')
    write_instances_with_seg(instances, tasks, seg_classes, out_file)
    return dict(
        ann_file=out_file, seg_dir=dst_dir, images=len(instances['images']),
        annotations=len(instances.get('annotations', [])),
        images_with_seg=len(tasks),
        images_without_seg=len(instances['images']) - len(tasks), **totals)


def convert(root: str, out_dir: Optional[str] = None,
            splits: Sequence[str] = ('train', 'val'),
            source: str = 'stuffthingmaps', nproc: int = 1,
            overwrite: bool = False, seg_root: Optional[str] = None,
            progress: bool = False) -> dict:
    """Convert the given splits; returns a summary dict per split."""
    if source not in SOURCES:
        raise ValueError(f'source must be one of {SOURCES}, got {source!r}')
    require(root, 'COCO root folder', LAYOUT)
    out_dir = out_dir or osp.join(root, 'annotations')
    if seg_root is None:
        seg_root = osp.join(root, DEFAULT_SEG_DIRS[source])
    summary = {}
    for split in normalize_splits(splits):
        split = split[:-4] if split.endswith('2017') else split
        summary[split] = convert_split(root, split, source, out_dir,
                                       seg_root, nproc, overwrite, progress)
    return summary


def parse_args(argv=None):
    parser = converter_parser(
        'Add semantic maps (COCO-Stuff 171 classes or COCO panoptic 133 '
        'classes) to the COCO 2017 instances JSON for mmmtl',
        'COCO root (holds train2017/, annotations/)')
    parser.add_argument('--source', choices=SOURCES, default='stuffthingmaps')
    add_nproc_arg(parser)
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite existing valid semantic maps')
    parser.add_argument('--seg-root', default=None,
                        help='maps go to SEG_ROOT/{split}2017/ (default '
                        'ROOT/stuffthingmaps_trainval2017 or '
                        'ROOT/panoptic_semseg)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return run_converter(convert, args.root, args.out_dir, args.splits,
                         args.source, args.nproc, overwrite=args.overwrite,
                         seg_root=args.seg_root, progress=True)


if __name__ == '__main__':
    main()
