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
import glob
import os.path as osp
import sys
from collections import namedtuple
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
from PIL import Image, ImageDraw

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _coco_output import number_entries, write_multitask_json  # noqa: E402
from _converter_cli import (add_nproc_arg, converter_parser,  # noqa: E402
                            run_converter)
from _converter_utils import (existing_label_map_ok,  # noqa: E402
                              first_few, image_hw, layout_error, load_json,
                              make_lut, mask_bbox, mask_to_rle,
                              normalize_splits, parallel_map, read_png,
                              require, sum_counts, write_label_png)

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
# What convert_frame counts per frame (summed over a split in the summary).
FRAME_STATS = ('fully_occluded', 'skipped_groups', 'unmatched_instance_ids',
               'seg_reused', 'seg_written')


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


def frame_size(task: dict, ann: dict) -> Tuple[int, int]:
    """(height, width) from a polygons.json, checked against its image."""
    hw = (int(ann['imgHeight']), int(ann['imgWidth']))
    img_hw = image_hw(task['img_path'])
    if img_hw != hw:
        raise ValueError(
            f'{task["img_path"]} is {img_hw[0]}x{img_hw[1]} (HxW) but '
            f'{task["json_path"]} says {hw[0]}x{hw[1]}')
    return hw


def label_id_image(task: dict, objects: List[dict], hw) -> np.ndarray:
    """The frame's uint8 label ids: its ``_labelIds.png`` (clipped to 255),
    or rendered from the polygons when that file is missing."""
    if not osp.isfile(task['label_ids_path']):
        return render(objects, [o['label'].id for o in objects], hw,
                      mode='L', background=NAME2LABEL['unlabeled'].id)
    label_ids = _checked_png(task['label_ids_path'], hw, 'labelIds')
    if label_ids.dtype != np.uint8:
        label_ids = np.clip(label_ids, 0, 255).astype(np.uint8)
    return label_ids


def write_train_id_map(task: dict, objects: List[dict], hw) -> dict:
    """Write the ``_labelTrainIds.png`` unless a valid one exists (and no
    ``overwrite``); returns the seg_reused / seg_written counts."""
    if not task['overwrite'] and existing_label_map_ok(
            task['seg_path'], hw, len(SEG_CLASSES)):
        return dict(seg_reused=1, seg_written=0)
    label_ids = label_id_image(task, objects, hw)
    write_label_png(task['seg_path'], TRAIN_ID_LUT[label_ids])
    return dict(seg_reused=0, seg_written=1)


def instance_id_image(task: dict, objects: List[dict], hw) -> np.ndarray:
    """The frame's instance ids: its ``_instanceIds.png``, or rendered from
    the polygons as cityscapesscripts does when that file is missing."""
    if osp.isfile(task['instance_ids_path']):
        return _checked_png(task['instance_ids_path'], hw, 'instanceIds')
    return render(objects, [o['draw_id'] for o in objects], hw)


def top_object_map(objects: List[dict], hw) -> np.ndarray:
    """Index + 1 of the top drawn object of every pixel (0: none)."""
    return render(objects, [i + 1 if o['label'].id >= 0 else -1
                            for i, o in enumerate(objects)], hw)


def mask_annotation(category_id: int, mask: np.ndarray,
                    crowd: bool) -> dict:
    """A COCO annotation (without ids) of the pixels of ``mask``."""
    return dict(category_id=category_id, bbox=mask_bbox(mask),
                area=int(mask.sum()), iscrowd=int(crowd),
                segmentation=mask_to_rle(mask))


def detection_annotations(objects: List[dict], inst: np.ndarray, hw,
                          crowd_groups: bool,
                          stats: dict) -> Tuple[List[dict], Set[int]]:
    """The annotations of the detection-class objects over their visible
    pixels, and the instance ids used; counts skipped groups and fully
    occluded objects in ``stats``."""
    index_map = None
    anns, used_ids = [], set()
    for idx, obj in enumerate(objects):
        name = obj['label'].name
        if name not in DET_NAME2CAT:
            continue
        if obj['group']:
            if not crowd_groups:
                stats['skipped_groups'] += 1
                continue
            if index_map is None:
                index_map = top_object_map(objects, hw)
            mask = index_map == idx + 1
        else:
            used_ids.add(obj['draw_id'])
            mask = inst == obj['draw_id']
        if not mask.any():
            stats['fully_occluded'] += 1
            continue
        anns.append(mask_annotation(DET_NAME2CAT[name], mask, obj['group']))
    return anns, used_ids


def count_unmatched_instance_ids(inst: np.ndarray, used_ids: Set[int]) -> int:
    """How many detection-class instance ids of ``inst`` no object has."""
    det_label_ids = {NAME2LABEL[n].id for n in DET_CLASSES}
    return sum(1 for v in np.unique(inst).tolist()
               if v >= 1000 and v // 1000 in det_label_ids
               and v not in used_ids)


def convert_frame(task: dict) -> dict:
    """Convert one frame; ``task`` holds its paths and the options."""
    ann = load_json(task['json_path'])
    hw = frame_size(task, ann)
    objects = parse_objects(ann, task['json_path'])
    stats = dict.fromkeys(FRAME_STATS, 0)
    stats.update(write_train_id_map(task, objects, hw))
    inst = instance_id_image(task, objects, hw)
    anns, used_ids = detection_annotations(objects, inst, hw,
                                           task['crowd_groups'], stats)
    if osp.isfile(task['instance_ids_path']):
        stats['unmatched_instance_ids'] = count_unmatched_instance_ids(
            inst, used_ids)
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
        raise layout_error(
            f'no *{POLY_SUFFIX} files in the city folders of {gt_dir}',
            LAYOUT)
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
        raise layout_error(
            f'image file not found for {len(missing)} annotated frame(s) of '
            f'split {split!r}: {first_few(missing)}', LAYOUT)
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
        images, annotations = number_entries(
            (res['image'], res['annotations']) for res in results)
        totals = sum_counts((res['stats'] for res in results), FRAME_STATS)
        out_file = write_multitask_json(
            out_dir, split, 'Cityscapes gtFine', images, annotations,
            DET_CATEGORIES, SEG_CLASSES)
        summary[split] = dict(ann_file=out_file, images=len(images),
                              annotations=len(annotations), **totals)
    return summary


def parse_args(argv=None):
    parser = converter_parser(
        'Convert Cityscapes gtFine to mmmtl multi-task COCO format (8-class '
        'instances JSON + 19-class labelTrainIds maps)',
        'Cityscapes root (holds leftImg8bit/, gtFine/)')
    add_nproc_arg(parser)
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
    return run_converter(convert, args.root, args.out_dir, args.splits,
                         args.nproc, crowd_groups=args.crowd_groups,
                         overwrite=args.overwrite, seg_root=args.seg_root,
                         progress=True)


if __name__ == '__main__':
    main()
