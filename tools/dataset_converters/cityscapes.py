"""Convert Cityscapes (gtFine) to mmmtl's multi-task COCO format.

Input (the original layout)::

    ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
    ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_polygons.json
    ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png
    ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_instanceIds.png
    (the last two are optional)

Output::

    OUT_DIR/instances_{split}.json      (OUT_DIR defaults to ROOT/annotations)
    SEG_ROOT/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelTrainIds.png
                                        (SEG_ROOT defaults to ROOT/gtFine,
                                         i.e. next to the source files)

Detection: the 8 instance classes person, rider, car, truck, bus, train,
motorcycle, bicycle (category ids 1..8 in this order). Every object of
``polygons.json`` of these classes becomes one annotation whose mask is its
*visible* region: polygons are drawn in file order and later ones cover
earlier ones. The visible regions are read from ``_gtFine_instanceIds.png``
(the official rendering; the k-th non-deleted object of class c, counted from
0, has id ``c_labelId * 1000 + k``); when that file is missing the converter
renders the same instance-id image from the polygons itself, exactly as
cityscapesscripts' ``json2instanceImg`` does (PIL polygons, file order,
deleted objects and negative ids such as 'license plate' not drawn). ``bbox``
is the tight box of the visible pixels (``w = x_max - x_min + 1``), ``area``
their count and ``segmentation`` their compressed RLE. Objects with no
visible pixel left are dropped (reported as ``fully_occluded``). Group labels
(``cargroup``, ``persongroup``, ...) are skipped unless ``--crowd-groups``:
then each becomes an ``iscrowd=1`` annotation of its class over the visible
pixels of its polygon.

Segmentation: the 19 standard train ids of cityscapesscripts' ``labels.py``
(``LABEL_IDS_TO_TRAIN_IDS`` below; every other label id, including
'unlabeled', groups such as 'polegroup', 'caravan', 'trailer', is 255),
mapped from ``_gtFine_labelIds.png``, or from a label-id image rendered from
the polygons when that file is missing. An existing ``_labelTrainIds.png``
that is a valid map of the image's size (single channel, uint8, values in
0..18 and 255) is reused unless ``--overwrite``.

Usage::

    python tools/dataset_converters/cityscapes.py --root data/cityscapes \
        [--out-dir data/cityscapes/annotations] [--splits train val] \
        [--nproc 8] [--crowd-groups] [--overwrite] [--seg-root DIR]
"""
import argparse
import glob
import os.path as osp
import sys
from collections import namedtuple
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _converter_utils import (LayoutError, dump_json,  # noqa: E402
                              existing_label_map_ok, first_few, image_hw,
                              load_json, make_lut, mask_bbox, mask_to_rle,
                              normalize_splits, parallel_map, read_png,
                              require, write_label_png)

Label = namedtuple('Label', ['name', 'id', 'train_id', 'has_instances'])

# The Cityscapes label definition (cityscapesscripts/helpers/labels.py):
# name, label id (value in *_labelIds.png), train id, has instances.
LABELS = [
    Label('unlabeled', 0, 255, False),
    Label('ego vehicle', 1, 255, False),
    Label('rectification border', 2, 255, False),
    Label('out of roi', 3, 255, False),
    Label('static', 4, 255, False),
    Label('dynamic', 5, 255, False),
    Label('ground', 6, 255, False),
    Label('road', 7, 0, False),
    Label('sidewalk', 8, 1, False),
    Label('parking', 9, 255, False),
    Label('rail track', 10, 255, False),
    Label('building', 11, 2, False),
    Label('wall', 12, 3, False),
    Label('fence', 13, 4, False),
    Label('guard rail', 14, 255, False),
    Label('bridge', 15, 255, False),
    Label('tunnel', 16, 255, False),
    Label('pole', 17, 5, False),
    Label('polegroup', 18, 255, False),
    Label('traffic light', 19, 6, False),
    Label('traffic sign', 20, 7, False),
    Label('vegetation', 21, 8, False),
    Label('terrain', 22, 9, False),
    Label('sky', 23, 10, False),
    Label('person', 24, 11, True),
    Label('rider', 25, 12, True),
    Label('car', 26, 13, True),
    Label('truck', 27, 14, True),
    Label('bus', 28, 15, True),
    Label('caravan', 29, 255, True),
    Label('trailer', 30, 255, True),
    Label('train', 31, 16, True),
    Label('motorcycle', 32, 17, True),
    Label('bicycle', 33, 18, True),
    Label('license plate', -1, -1, False),
]
NAME2LABEL = {lab.name: lab for lab in LABELS}

# labelIds -> train ids (all other ids -> 255).
LABEL_IDS_TO_TRAIN_IDS = {
    lab.id: lab.train_id
    for lab in LABELS if lab.id >= 0 and 0 <= lab.train_id < 255
}
TRAIN_ID_LUT = make_lut(LABEL_IDS_TO_TRAIN_IDS)
SEG_CLASSES = tuple(
    lab.name for lab in sorted(
        (lab for lab in LABELS if lab.id >= 0 and 0 <= lab.train_id < 255),
        key=lambda lab: lab.train_id))
assert len(SEG_CLASSES) == 19

DET_CLASSES = ('person', 'rider', 'car', 'truck', 'bus', 'train',
               'motorcycle', 'bicycle')
DET_CATEGORIES = [
    dict(id=i + 1, name=name,
         supercategory='human' if name in ('person', 'rider') else 'vehicle')
    for i, name in enumerate(DET_CLASSES)
]
DET_NAME2CAT = {c['name']: c['id'] for c in DET_CATEGORIES}

LAYOUT = """\
  ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
  ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_polygons.json
  ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png
  ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_instanceIds.png
  (the labelIds/instanceIds PNGs are optional: rendered from the polygons
  when missing)"""

POLY_SUFFIX = '_gtFine_polygons.json'


def parse_objects(ann: dict, json_path: str) -> List[dict]:
    """The drawable objects of a polygons.json, in drawing order.

    Each is a dict with ``label`` (a :class:`Label`), ``group`` (bool),
    ``polygon`` (list of (x, y)) and ``draw_id``: the value cityscapesscripts
    writes into the instanceIds image (``label_id * 1000 + k`` for the k-th
    object of an instance class, else the label id).
    """
    counters: Dict[str, int] = {}
    objects = []
    for obj in ann.get('objects', []):
        if obj.get('deleted'):
            continue
        name = obj['label']
        group = False
        if name not in NAME2LABEL and name.endswith('group'):
            name = name[:-len('group')]
            group = True
        if name not in NAME2LABEL:
            raise ValueError(
                f'{json_path}: unknown Cityscapes label {obj["label"]!r}')
        label = NAME2LABEL[name]
        draw_id = label.id
        if label.has_instances and not group:
            draw_id = label.id * 1000 + counters.get(name, 0)
            counters[name] = counters.get(name, 0) + 1
        objects.append(
            dict(label=label, group=group, draw_id=draw_id,
                 polygon=[(float(p[0]), float(p[1]))
                          for p in obj.get('polygon', [])]))
    return objects


def render(objects: List[dict], values: Sequence[int], hw, mode: str = 'I',
           background: int = 0) -> np.ndarray:
    """Draw ``objects``' polygons in order (later over earlier) with
    ``values`` (negative values are not drawn), as cityscapesscripts does."""
    h, w = hw
    img = Image.new(mode, (w, h), background)
    drawer = ImageDraw.Draw(img)
    for obj, value in zip(objects, values):
        if value < 0 or len(obj['polygon']) < 2:
            continue
        drawer.polygon(obj['polygon'], fill=int(value))
    return np.array(img)


def _checked_png(path: str, hw, what: str) -> np.ndarray:
    arr = read_png(path)
    if arr.ndim != 2 or tuple(arr.shape) != tuple(hw):
        raise ValueError(
            f'{what} {path} has shape {arr.shape}, expected a single-channel '
            f'image of {hw[0]}x{hw[1]} (HxW) as given by its polygons.json')
    return arr


def convert_frame(task: dict) -> dict:
    """Convert one frame; ``task`` holds its paths and the options."""
    json_path = task['json_path']
    ann = load_json(json_path)
    hw = (int(ann['imgHeight']), int(ann['imgWidth']))
    img_hw = image_hw(task['img_path'])
    if img_hw != hw:
        raise ValueError(
            f'{task["img_path"]} is {img_hw[0]}x{img_hw[1]} (HxW) but '
            f'{json_path} says {hw[0]}x{hw[1]}')
    objects = parse_objects(ann, json_path)
    stats = dict(fully_occluded=0, skipped_groups=0, unmatched_instance_ids=0,
                 seg_reused=0, seg_written=0)

    # --- semantic map ---------------------------------------------------
    seg_path = task['seg_path']
    if not task['overwrite'] and existing_label_map_ok(
            seg_path, hw, len(SEG_CLASSES)):
        stats['seg_reused'] = 1
    else:
        if osp.isfile(task['label_ids_path']):
            label_ids = _checked_png(task['label_ids_path'], hw, 'labelIds')
            if label_ids.dtype != np.uint8:
                label_ids = np.clip(label_ids, 0, 255).astype(np.uint8)
        else:
            label_ids = render(objects, [o['label'].id for o in objects], hw,
                               mode='L', background=NAME2LABEL['unlabeled'].id)
        write_label_png(seg_path, TRAIN_ID_LUT[label_ids])
        stats['seg_written'] = 1

    # --- detection ------------------------------------------------------
    if osp.isfile(task['instance_ids_path']):
        inst = _checked_png(task['instance_ids_path'], hw, 'instanceIds')
    else:
        inst = render(objects, [o['draw_id'] for o in objects], hw)
    index_map = None
    anns = []
    used_ids = set()
    for idx, obj in enumerate(objects):
        name = obj['label'].name
        if name not in DET_NAME2CAT:
            continue
        if obj['group']:
            if not task['crowd_groups']:
                stats['skipped_groups'] += 1
                continue
            if index_map is None:  # index + 1 of the top drawn object
                index_map = render(objects, [
                    i + 1 if o['label'].id >= 0 else -1
                    for i, o in enumerate(objects)], hw)
            mask = index_map == idx + 1
        else:
            used_ids.add(obj['draw_id'])
            mask = inst == obj['draw_id']
        if not mask.any():
            stats['fully_occluded'] += 1
            continue
        anns.append(
            dict(category_id=DET_NAME2CAT[name], bbox=mask_bbox(mask),
                 area=int(mask.sum()), iscrowd=int(obj['group']),
                 segmentation=mask_to_rle(mask)))
    if osp.isfile(task['instance_ids_path']):
        det_label_ids = {NAME2LABEL[n].id for n in DET_CLASSES}
        stats['unmatched_instance_ids'] = sum(
            1 for v in np.unique(inst).tolist()
            if v >= 1000 and v // 1000 in det_label_ids and v not in used_ids)

    image = dict(file_name=task['file_name'], height=hw[0], width=hw[1],
                 seg_file_name=task['seg_file_name'])
    return dict(image=image, annotations=anns, stats=stats)


def collect_frames(root: str, split: str, seg_root: str, options: dict):
    img_dir = require(osp.join(root, 'leftImg8bit', split),
                      f'Cityscapes image folder of split {split!r}', LAYOUT)
    gt_dir = require(osp.join(root, 'gtFine', split),
                     f'Cityscapes gtFine folder of split {split!r}', LAYOUT)
    json_paths = sorted(glob.glob(osp.join(gt_dir, '*', '*' + POLY_SUFFIX)))
    if not json_paths:
        raise LayoutError(
            f'no *{POLY_SUFFIX} files in the city folders of {gt_dir}\n'
            f'expected input layout:\n{LAYOUT}')
    tasks, missing = [], []
    for json_path in json_paths:
        city = osp.basename(osp.dirname(json_path))
        base = osp.basename(json_path)[:-len(POLY_SUFFIX)]
        file_name = f'{city}/{base}_leftImg8bit.png'
        img_path = osp.join(img_dir, file_name)
        if not osp.isfile(img_path):
            missing.append(img_path)
            continue
        seg_file_name = f'{city}/{base}_gtFine_labelTrainIds.png'
        gt_prefix = osp.join(gt_dir, city, base + '_gtFine_')
        tasks.append(dict(
            options,
            json_path=json_path, img_path=img_path, file_name=file_name,
            label_ids_path=gt_prefix + 'labelIds.png',
            instance_ids_path=gt_prefix + 'instanceIds.png',
            seg_file_name=seg_file_name,
            seg_path=osp.join(seg_root, split, seg_file_name)))
    if missing:
        raise LayoutError(
            f'image file not found for {len(missing)} annotated frame(s) of '
            f'split {split!r}: {first_few(missing)}\n'
            f'expected input layout:\n{LAYOUT}')
    return tasks


def convert(root: str, out_dir: Optional[str] = None,
            splits: Sequence[str] = ('train', 'val'), nproc: int = 1,
            crowd_groups: bool = False, overwrite: bool = False,
            seg_root: Optional[str] = None, progress: bool = False) -> dict:
    """Convert the given splits; returns a summary dict per split.

    Writes ``{out_dir}/instances_{split}.json`` (``out_dir`` defaults to
    ``{root}/annotations``) and the ``_gtFine_labelTrainIds.png`` maps under
    ``{seg_root}/{split}/{city}/`` (``seg_root`` defaults to
    ``{root}/gtFine``).
    """
    require(root, 'Cityscapes root folder', LAYOUT)
    out_dir = out_dir or osp.join(root, 'annotations')
    seg_root = seg_root or osp.join(root, 'gtFine')
    options = dict(crowd_groups=crowd_groups, overwrite=overwrite)
    summary = {}
    for split in normalize_splits(splits):
        tasks = collect_frames(root, split, seg_root, options)
        results = parallel_map(convert_frame, tasks, nproc,
                               desc=f'cityscapes {split}', progress=progress)
        images, annotations = [], []
        totals = dict(fully_occluded=0, skipped_groups=0,
                      unmatched_instance_ids=0, seg_reused=0, seg_written=0)
        for img_id, res in enumerate(results, start=1):
            images.append(dict(id=img_id, **res['image']))
            for ann in res['annotations']:
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=img_id, **ann))
            for k, v in res['stats'].items():
                totals[k] += v
        out_file = osp.join(out_dir, f'instances_{split}.json')
        dump_json(
            dict(info=dict(description=f'Cityscapes gtFine {split} '
                           '(mmmtl multi-task format)'),
                 images=images, annotations=annotations,
                 categories=DET_CATEGORIES, seg_classes=list(SEG_CLASSES)),
            out_file)
        summary[split] = dict(ann_file=out_file, images=len(images),
                              annotations=len(annotations), **totals)
    return summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert Cityscapes gtFine to mmmtl multi-task COCO '
        'format (8-class instances JSON + 19-class labelTrainIds maps)')
    parser.add_argument('--root', required=True,
                        help='Cityscapes root (holds leftImg8bit/, gtFine/)')
    parser.add_argument('--out-dir', default=None,
                        help='where the JSONs go (default ROOT/annotations)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--crowd-groups', action='store_true',
                        help="keep group labels ('cargroup', ...) as "
                        'iscrowd=1 annotations instead of skipping them')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite existing valid _labelTrainIds.png')
    parser.add_argument('--seg-root', default=None,
                        help='where the labelTrainIds maps go, as '
                        'SEG_ROOT/{split}/{city}/ (default ROOT/gtFine)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = convert(args.root, args.out_dir, args.splits, args.nproc,
                          crowd_groups=args.crowd_groups,
                          overwrite=args.overwrite, seg_root=args.seg_root,
                          progress=True)
    except LayoutError as e:
        sys.exit(f'error: {e}')
    for split, info in summary.items():
        print(f'[{split}] ' + ', '.join(f'{k}: {v}' for k, v in info.items()))
    return summary


if __name__ == '__main__':
    main()
