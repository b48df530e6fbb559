"""Convert BDD100K detection + drivable area to mmmtl's multi-task format.

Input (the original layout)::

    ROOT/images/100k/{split}/{name}.jpg
    ROOT/labels/det_20/det_{split}.json
    ROOT/labels/drivable/masks/{split}/{name stem}.png

Output::

    OUT_DIR/instances_{split}.json      (OUT_DIR defaults to ROOT/annotations)

Detection: the 10 BDD100K detection classes pedestrian, rider, car, truck,
bus, train, motorcycle, bicycle, traffic light, traffic sign (category ids
1..10 in this order). ``box2d {x1, y1, x2, y2}`` becomes the COCO box
``[x1, y1, x2 - x1, y2 - y1]`` (note: Scalabel's own ``to_coco`` adds 1 to
w and h), ``area = w * h`` and ``segmentation`` the box as one polygon.
As in BDD100K's det config, the aliases bike, caravan, motor, person, van
are renamed to bicycle, car, motorcycle, pedestrian, car, and 'other
person', 'other vehicle', 'trailer' become ``iscrowd=1`` boxes of pedestrian,
car, truck (ignored by training and COCO evaluation; ``--drop-ignored`` skips
them instead). A label with ``attributes.crowd`` true is ``iscrowd=1`` too.
Other categories, labels without ``box2d`` and boxes with w or h <= 0 are
skipped (counted in the summary). Every frame of ``det_{split}.json``
becomes an image, also frames without labels.

Segmentation: the drivable-area masks already are semantic maps (single
channel uint8, 0 = direct, 1 = alternative, 2 = background; the ids are
kept, ``seg_classes = ['direct', 'alternative', 'background']``), so they are
not copied: ``seg_file_name`` points at the original mask (seg prefix
``labels/drivable/masks/{split}/``) after checking it (single channel, image
size, values in {0, 1, 2, 255}; an invalid mask is an error naming it).
Frames without a mask get no ``seg_file_name`` (``images_without_seg``).

Usage::

    python tools/dataset_converters/bdd100k.py --root data/bdd100k \
        [--out-dir DIR] [--splits train val] [--nproc 8] [--drop-ignored]
"""
import os.path as osp
import sys
from collections import Counter
from typing import List, Optional, Sequence, Tuple


_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _coco_output import number_entries, write_multitask_json  # noqa: E402
from _converter_cli import (add_nproc_arg, converter_parser,  # noqa: E402
                            run_converter)
from _converter_utils import (first_few, image_hw,  # noqa: E402
                              label_map_problem, layout_error, load_json,
                              normalize_splits, parallel_map, read_png,
                              require)

DET_CLASSES = ('pedestrian', 'rider', 'car', 'truck', 'bus', 'train',
               'motorcycle', 'bicycle', 'traffic light', 'traffic sign')
DET_CATEGORIES = [
    dict(id=i + 1, name=name,
         supercategory=('human' if i < 2 else 'vehicle' if i < 8 else
                        'traffic'))
    for i, name in enumerate(DET_CLASSES)
]
DET_NAME2CAT = {c['name']: c['id'] for c in DET_CATEGORIES}
# BDD100K's det config: renamed categories, and categories kept as ignored
# (crowd) boxes of another class.
NAME_ALIASES = {'bike': 'bicycle', 'caravan': 'car', 'motor': 'motorcycle',
                'person': 'pedestrian', 'van': 'car'}
IGNORED_AS = {'other person': 'pedestrian', 'other vehicle': 'car',
              'trailer': 'truck'}
SEG_CLASSES = ('direct', 'alternative', 'background')

LAYOUT = """\
  ROOT/images/100k/{split}/{name}.jpg
  ROOT/labels/det_20/det_{split}.json
  ROOT/labels/drivable/masks/{split}/{name stem}.png"""


def frame_annotations(frame: dict, drop_ignored: bool, skipped: Counter):
    """COCO annotations (without ids) of one det_20 frame."""
    anns = []
    for label in frame.get('labels') or []:
        category = label.get('category')
        category = NAME_ALIASES.get(category, category)
        attributes = label.get('attributes') or {}
        crowd = bool(attributes.get('crowd', False))
        if category in IGNORED_AS:
            if drop_ignored:
                skipped[f'ignored:{category}'] += 1
                continue
            category, crowd = IGNORED_AS[category], True
        if category not in DET_NAME2CAT:
            skipped[f'category:{category}'] += 1
            continue
        box = label.get('box2d')
        if not box:
            skipped['no_box2d'] += 1
            continue
        x1, y1 = float(box['x1']), float(box['y1'])
        w, h = float(box['x2']) - x1, float(box['y2']) - y1
        if w <= 0 or h <= 0:
            skipped['degenerate_box'] += 1
            continue
        x2, y2 = x1 + w, y1 + h
        ann = dict(category_id=DET_NAME2CAT[category], bbox=[x1, y1, w, h],
                   area=w * h, iscrowd=int(crowd),
                   segmentation=[[x1, y1, x2, y1, x2, y2, x1, y2]],
                   attributes=attributes)
        if 'id' in label:
            ann['bdd100k_id'] = label['id']
        anns.append(ann)
    return anns


def check_frame(task: dict) -> dict:
    """Image size of one frame and whether its drivable mask is valid."""
    hw = image_hw(task['img_path'])
    mask_path = task['mask_path']
    if not osp.isfile(mask_path):
        return dict(hw=hw, has_seg=False)
    problem = label_map_problem(read_png(mask_path), hw, len(SEG_CLASSES))
    if problem is not None:
        raise ValueError(
            f'drivable mask {mask_path} is not a valid semantic map for '
            f'{task["img_path"]}: {problem}')
    return dict(hw=hw, has_seg=True)


def split_sources(root: str, split: str) -> Tuple[str, str, str]:
    """The image folder, the det_20 JSON and the drivable mask folder of a
    split, each checked to exist."""
    img_dir = require(osp.join(root, 'images', '100k', split),
                      f'BDD100K image folder of split {split!r}', LAYOUT)
    det_json = require(
        osp.join(root, 'labels', 'det_20', f'det_{split}.json'),
        f'BDD100K detection labels of split {split!r}', LAYOUT)
    mask_dir = require(
        osp.join(root, 'labels', 'drivable', 'masks', split),
        f'BDD100K drivable-area mask folder of split {split!r}', LAYOUT)
    return img_dir, det_json, mask_dir


def load_frames(det_json: str) -> List[dict]:
    """The frames of a det_20 JSON (a list, or a Scalabel dataset)."""
    frames = load_json(det_json)
    if isinstance(frames, dict) and 'frames' in frames:  # Scalabel dataset
        frames = frames['frames']
    return frames


def frame_tasks(frames: List[dict], img_dir: str, mask_dir: str,
                det_json: str) -> List[dict]:
    """Per frame its image path, drivable mask path and seg_file_name; a
    :class:`LayoutError` names the frames whose image is missing."""
    tasks, missing = [], []
    for frame in frames:
        img_path = osp.join(img_dir, frame['name'])
        if not osp.isfile(img_path):
            missing.append(img_path)
        stem = osp.splitext(frame['name'])[0]
        tasks.append(dict(img_path=img_path,
                          mask_path=osp.join(mask_dir, stem + '.png'),
                          seg_file_name=stem + '.png'))
    if missing:
        raise layout_error(
            f'image file not found for {len(missing)} frame(s) of '
            f'{det_json}: {first_few(missing)}', LAYOUT)
    return tasks


def image_entry(frame: dict, task: dict, check: dict) -> dict:
    """The COCO image entry (without id) of one frame."""
    image = dict(file_name=frame['name'], height=check['hw'][0],
                 width=check['hw'][1])
    if check['has_seg']:
        image['seg_file_name'] = task['seg_file_name']
    if frame.get('attributes'):
        image['attributes'] = frame['attributes']
    return image


def convert_split(root: str, out_dir: str, split: str, nproc: int = 1,
                  drop_ignored: bool = False, progress: bool = False) -> dict:
    """Write ``{out_dir}/instances_{split}.json``; returns its summary."""
    img_dir, det_json, mask_dir = split_sources(root, split)
    frames = load_frames(det_json)
    tasks = frame_tasks(frames, img_dir, mask_dir, det_json)
    checks = parallel_map(check_frame, tasks, nproc,
                          desc=f'bdd100k {split}', progress=progress)
    skipped = Counter()
    images, annotations = number_entries(
        (image_entry(frame, task, chk),
         frame_annotations(frame, drop_ignored, skipped))
        for frame, task, chk in zip(frames, tasks, checks))
    out_file = write_multitask_json(
        out_dir, split, 'BDD100K det_20 + drivable', images, annotations,
        DET_CATEGORIES, SEG_CLASSES)
    with_seg = sum(1 for c in checks if c['has_seg'])
    return dict(
        ann_file=out_file, images=len(images), annotations=len(annotations),
        crowd_annotations=sum(a['iscrowd'] for a in annotations),
        images_with_seg=with_seg, images_without_seg=len(images) - with_seg,
        skipped_labels=dict(sorted(skipped.items())))


def convert(root: str, out_dir: Optional[str] = None,
            splits: Sequence[str] = ('train', 'val'), nproc: int = 1,
            drop_ignored: bool = False, progress: bool = False) -> dict:
    """Convert the given splits; returns a summary dict per split."""
    require(root, 'BDD100K root folder', LAYOUT)
    out_dir = out_dir or osp.join(root, 'annotations')
    return {split: convert_split(root, out_dir, split, nproc, drop_ignored,
                                 progress)
            for split in normalize_splits(splits)}


def parse_args(argv=None):
    parser = converter_parser(
        'Convert BDD100K det_20 boxes + drivable-area masks to mmmtl '
        'multi-task COCO format', 'BDD100K root (holds images/, labels/)')
    add_nproc_arg(parser)
    parser.add_argument('--drop-ignored', action='store_true',
                        help="skip 'other person', 'other vehicle', "
                        "'trailer' instead of keeping them as iscrowd=1")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return run_converter(convert, args.root, args.out_dir, args.splits,
                         args.nproc, drop_ignored=args.drop_ignored,
                         progress=True)


if __name__ == '__main__':
    main()
