"""tools/dataset_converters/cityscapes.py on a tiny dataset in the original
Cityscapes layout (polygons.json + labelIds/instanceIds PNGs rendered here,
independently of the converter, with OpenCV)."""
import json
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

H, W = 48, 80

# The test's own excerpt of the Cityscapes label definition:
# name -> (label id, train id); instance classes separately.
LABEL = {
    'unlabeled': (0, 255), 'ego vehicle': (1, 255), 'road': (7, 0),
    'sidewalk': (8, 1), 'parking': (9, 255), 'building': (11, 2),
    'pole': (17, 5), 'polegroup': (18, 255), 'vegetation': (21, 8),
    'terrain': (22, 9), 'sky': (23, 10), 'person': (24, 11),
    'rider': (25, 12), 'car': (26, 13), 'truck': (27, 14), 'bus': (28, 15),
    'caravan': (29, 255), 'train': (31, 16), 'motorcycle': (32, 17),
    'bicycle': (33, 18), 'license plate': (-1, -1),
}
INSTANCE_CLASSES = {'person', 'rider', 'car', 'truck', 'bus', 'caravan',
                    'trailer', 'train', 'motorcycle', 'bicycle'}
DET_CLASSES = ['person', 'rider', 'car', 'truck', 'bus', 'train',
               'motorcycle', 'bicycle']


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def obj(label, polygon, deleted=None):
    o = {'label': label, 'polygon': polygon}
    if deleted is not None:
        o['deleted'] = deleted
    return o


FRAMES = {
    ('train', 'aachen', 'aachen_000000_000019'): [
        obj('sky', rect(0, 0, 79, 15)),
        obj('building', rect(0, 8, 30, 25)),
        obj('road', rect(0, 36, 79, 47)),
        obj('pole', rect(35, 5, 37, 35)),
        obj('polegroup', rect(40, 5, 42, 35)),      # a label, not a group
        obj('car', rect(10, 20, 30, 35)),           # car 0, right part hidden
        obj('car', rect(0, 0, 79, 47), deleted=1),  # deleted: not drawn
        obj('car', rect(22, 18, 45, 40)),           # car 1
        obj('license plate', rect(30, 36, 34, 38)),  # id -1: not drawn
        obj('person', [[50, 5], [58, 5], [58, 9], [54, 9], [54, 30],
                       [50, 30]]),                  # L-shaped
        obj('person', rect(60, 10, 65, 20)),        # fully hidden by the bus
        obj('bus', rect(59, 8, 70, 25)),
        obj('cargroup', rect(66, 28, 79, 38)),
        obj('license plate', rect(66, 28, 68, 29)),  # not drawn over a group
        obj('caravan', rect(0, 40, 8, 46)),
        obj('ego vehicle', rect(0, 44, 79, 47)),
        obj('rider', rect(72, -5, 85, 6)),          # leaves the image
    ],
    ('train', 'aachen', 'aachen_000001_000019'): [
        obj('road', rect(0, 30, 79, 47)),
        obj('vegetation', rect(0, 0, 79, 29)),
        obj('bicycle', rect(5, 20, 25, 40)),
        obj('truck', rect(15, 10, 40, 45)),         # hides the bicycle's right
        obj('motorcycle', rect(45, 30, 55, 40)),
        obj('train', rect(60, 5, 79, 35)),
        obj('terrain', rect(45, 41, 79, 47)),
        obj('bicyclegroup', rect(0, 0, 3, 3)),
        obj('parking', rect(42, 0, 44, 3)),
    ],
    ('val', 'frankfurt', 'frankfurt_000000_000294'): [
        obj('sidewalk', rect(0, 20, 79, 47)),
        obj('person', rect(30, 10, 40, 44)),
    ],
}


def render_gt(objects):
    """(labelIds uint8, instanceIds uint16) as cityscapesscripts makes them,
    plus the instance objects as (name, instance id, is_group, index)."""
    label_ids = np.zeros((H, W), np.uint8)
    inst_ids = np.zeros((H, W), np.int32)
    counters, instances = {}, []
    for i, o in enumerate(objects):
        if o.get('deleted'):
            continue
        name, group = o['label'], False
        if name not in LABEL and name.endswith('group'):
            name, group = name[:-5], True
        lid = LABEL[name][0]
        iid = lid
        if name in INSTANCE_CLASSES and not group:
            iid = lid * 1000 + counters.get(name, 0)
            counters[name] = counters.get(name, 0) + 1
        instances.append((name, iid, group, i))
        if lid < 0:
            continue
        pts = np.array(o['polygon'], np.int32)
        cv2.fillPoly(label_ids, [pts], int(lid))
        cv2.fillPoly(inst_ids, [pts], int(iid))
    return label_ids, inst_ids.astype(np.uint16), instances


def index_map(objects):
    """Index (+1) of the top-most drawn object of every pixel."""
    out = np.zeros((H, W), np.int32)
    for i, o in enumerate(objects):
        if o.get('deleted') or LABEL.get(o['label'], (0,))[0] < 0:
            continue
        cv2.fillPoly(out, [np.array(o['polygon'], np.int32)], i + 1)
    return out


def tight_box(mask):
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1)]


def expected_annotations(objects, crowd_groups=False):
    """{(class, bbox, area, iscrowd)} and the masks, from the GT images."""
    _, inst, instances = render_gt(objects)
    idx = index_map(objects)
    expected = {}
    for name, iid, group, i in instances:
        if name not in DET_CLASSES:
            continue
        if group:
            if not crowd_groups:
                continue
            mask = idx == i + 1
        else:
            mask = inst == iid
        if mask.any():
            key = (name, tuple(tight_box(mask)), int(mask.sum()), int(group))
            expected[key] = mask
    return expected


def train_ids_of(label_ids):
    lut = np.full(256, 255, np.uint8)
    for lid, tid in LABEL.values():
        if lid >= 0:
            lut[lid] = tid
    return lut[label_ids]


@pytest.fixture
def cityscapes_root(tmp_path):
    root = tmp_path / 'cityscapes'
    rng = np.random.default_rng(0)
    for (split, city, base), objects in FRAMES.items():
        img_dir = root / 'leftImg8bit' / split / city
        gt_dir = root / 'gtFine' / split / city
        img_dir.mkdir(parents=True, exist_ok=True)
        gt_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(img_dir / f'{base}_leftImg8bit.png'),
                    rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        with open(gt_dir / f'{base}_gtFine_polygons.json', 'w') as f:
            json.dump({'imgHeight': H, 'imgWidth': W, 'objects': objects}, f)
        label_ids, inst_ids, _ = render_gt(objects)
        cv2.imwrite(str(gt_dir / f'{base}_gtFine_labelIds.png'), label_ids)
        cv2.imwrite(str(gt_dir / f'{base}_gtFine_instanceIds.png'), inst_ids)
    return str(root)


def converted_by_frame(coco):
    """{base name: (image entry, [annotations])}."""
    out = {}
    for img in coco.dataset['images']:
        base = osp.basename(img['file_name'])[:-len('_leftImg8bit.png')]
        out[base] = (img, coco.loadAnns(coco.getAnnIds(imgIds=[img['id']])))
    return out


def check_split(coco, root, split, crowd_groups=False):
    names = {c['id']: c['name'] for c in coco.dataset['categories']}
    assert [names[i] for i in sorted(names)] == DET_CLASSES
    frames = converted_by_frame(coco)
    expected_frames = {b: o for (s, _, b), o in FRAMES.items() if s == split}
    assert set(frames) == set(expected_frames)
    for base, objects in expected_frames.items():
        img, anns = frames[base]
        assert (img['height'], img['width']) == (H, W)
        expected = expected_annotations(objects, crowd_groups)
        got = {}
        for a in anns:
            key = (names[a['category_id']], tuple(a['bbox']), a['area'],
                   a['iscrowd'])
            got[key] = mask_utils.decode(a['segmentation']).astype(bool)
        assert set(got) == set(expected), base
        for key, mask in expected.items():
            np.testing.assert_array_equal(got[key], mask)
        # semantic map: the 19-class remap of labelIds, pixel by pixel
        seg = cv2.imread(osp.join(root, 'gtFine', split,
                                  img['seg_file_name']), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(seg, train_ids_of(render_gt(objects)[0]))
    return frames


def test_cityscapes_boxes_occlusion_and_train_ids(
        cityscapes_root, tmp_path, load_converter, check_coco_output):
    cs = load_converter('cityscapes')
    out = str(tmp_path / 'ann')
    summary = cs.convert(cityscapes_root, out, splits=['train', 'val'])
    assert summary['train']['images'] == 2
    assert summary['train']['fully_occluded'] == 1      # the hidden person
    assert summary['train']['skipped_groups'] == 2
    assert summary['train']['unmatched_instance_ids'] == 0
    assert summary['train']['seg_written'] == 2
    for split in ('train', 'val'):
        coco = check_coco_output(
            osp.join(out, f'instances_{split}.json'),
            osp.join(cityscapes_root, 'leftImg8bit', split),
            osp.join(cityscapes_root, 'gtFine', split))
        assert coco.dataset['seg_classes'][:3] == ['road', 'sidewalk',
                                                   'building']
        assert coco.dataset['seg_classes'][18] == 'bicycle'
        assert len(coco.dataset['seg_classes']) == 19
        frames = check_split(coco, cityscapes_root, split)
        if split == 'train':
            boxes = {(a['category_id'], tuple(a['bbox']))
                     for a in frames['aachen_000000_000019'][1]}
            # hand-computed visible boxes
            assert (3, (10, 20, 12, 16)) in boxes     # car 0 behind car 1
            assert (3, (22, 18, 24, 23)) in boxes     # car 1 (plate not drawn)
            assert (1, (50, 5, 9, 26)) in boxes       # L-shaped person
            assert (5, (59, 8, 12, 18)) in boxes      # bus
            assert (2, (72, 0, 8, 7)) in boxes        # rider, clipped
            assert len(boxes) == 5                    # hidden person dropped
            boxes = {(a['category_id'], tuple(a['bbox']))
                     for a in frames['aachen_000001_000019'][1]}
            assert (8, (5, 20, 10, 21)) in boxes      # bicycle behind truck
    seg = cv2.imread(osp.join(
        cityscapes_root, 'gtFine/train/aachen',
        'aachen_000000_000019_gtFine_labelTrainIds.png'),
        cv2.IMREAD_UNCHANGED)
    assert seg[30, 47] == 255      # unlabeled
    assert seg[10, 41] == 255      # polegroup
    assert seg[42, 4] == 255       # caravan
    assert seg[46, 40] == 255      # ego vehicle
    assert seg[30, 70] == 13       # cargroup is 'car' for segmentation
    assert seg[37, 32] == 13       # license plate not drawn: car
    assert seg[10, 36] == 5        # pole


def test_cityscapes_renders_from_polygons_without_pngs(
        cityscapes_root, tmp_path, load_converter, check_coco_output):
    """Without labelIds/instanceIds PNGs the converter renders them from the
    polygons itself, with the same result."""
    for dirpath, _, files in os.walk(osp.join(cityscapes_root, 'gtFine')):
        for f in files:
            if f.endswith(('_labelIds.png', '_instanceIds.png')):
                os.remove(osp.join(dirpath, f))
    cs = load_converter('cityscapes')
    out = str(tmp_path / 'ann')
    cs.convert(cityscapes_root, out, splits=['train'])
    coco = check_coco_output(
        osp.join(out, 'instances_train.json'),
        osp.join(cityscapes_root, 'leftImg8bit', 'train'),
        osp.join(cityscapes_root, 'gtFine', 'train'))
    check_split(coco, cityscapes_root, 'train')


def test_cityscapes_crowd_groups_and_nproc(cityscapes_root, tmp_path,
                                           load_converter):
    cs = load_converter('cityscapes')
    out1, out2 = str(tmp_path / 'a1'), str(tmp_path / 'a2')
    summary = cs.convert(cityscapes_root, out1, splits=['train'],
                         crowd_groups=True)
    assert summary['train']['skipped_groups'] == 0
    from pycocotools.coco import COCO
    coco = COCO(osp.join(out1, 'instances_train.json'))
    check_split(coco, cityscapes_root, 'train', crowd_groups=True)
    crowd = {(a['category_id'], tuple(a['bbox']))
             for a in coco.dataset['annotations'] if a['iscrowd']}
    assert crowd == {(3, (66, 28, 14, 11)), (8, (0, 0, 4, 4))}
    # the same result on 2 processes
    cs.convert(cityscapes_root, out2, splits=['train'], crowd_groups=True,
               nproc=2, overwrite=True)
    with open(osp.join(out1, 'instances_train.json')) as f1, \
            open(osp.join(out2, 'instances_train.json')) as f2:
        assert json.load(f1) == json.load(f2)


def test_cityscapes_reuses_valid_train_id_maps(cityscapes_root, tmp_path,
                                               load_converter):
    cs = load_converter('cityscapes')
    gt = osp.join(cityscapes_root, 'gtFine', 'train', 'aachen')
    valid = osp.join(gt, 'aachen_000000_000019_gtFine_labelTrainIds.png')
    invalid = osp.join(gt, 'aachen_000001_000019_gtFine_labelTrainIds.png')
    cv2.imwrite(valid, np.full((H, W), 3, np.uint8))      # valid: kept
    cv2.imwrite(invalid, np.full((H, W), 40, np.uint8))   # id 40: rewritten
    summary = cs.convert(cityscapes_root, str(tmp_path / 'a'),
                         splits=['train'])
    assert summary['train']['seg_reused'] == 1
    assert summary['train']['seg_written'] == 1
    assert (cv2.imread(valid, cv2.IMREAD_UNCHANGED) == 3).all()
    objects = FRAMES[('train', 'aachen', 'aachen_000001_000019')]
    np.testing.assert_array_equal(cv2.imread(invalid, cv2.IMREAD_UNCHANGED),
                                  train_ids_of(render_gt(objects)[0]))
    summary = cs.convert(cityscapes_root, str(tmp_path / 'a'),
                         splits=['train'], overwrite=True)
    assert summary['train']['seg_written'] == 2
    assert not (cv2.imread(valid, cv2.IMREAD_UNCHANGED) == 3).all()


def test_cityscapes_cli_and_seg_root(cityscapes_root, tmp_path,
                                     load_converter):
    cs = load_converter('cityscapes')
    seg_root = str(tmp_path / 'seg')
    cs.main(['--root', cityscapes_root, '--splits', 'val',
             '--seg-root', seg_root])
    ann = osp.join(cityscapes_root, 'annotations', 'instances_val.json')
    with open(ann) as f:
        coco = json.load(f)
    img = coco['images'][0]
    assert img['file_name'] == \
        'frankfurt/frankfurt_000000_000294_leftImg8bit.png'
    assert img['seg_file_name'] == \
        'frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png'
    assert osp.isfile(osp.join(seg_root, 'val', img['seg_file_name']))


def test_cityscapes_output_loads_in_multitask_dataset(
        cityscapes_root, tmp_path, load_converter):
    pytest.importorskip('mmdet')
    from mmdet.registry import DATASETS

    import mmmtl  # noqa: F401
    cs = load_converter('cityscapes')
    cs.convert(cityscapes_root, splits=['train'])
    ds = DATASETS.build(dict(
        type='MultiTaskCocoDataset', data_root=cityscapes_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='leftImg8bit/train/', seg='gtFine/train/'),
        test_mode=True, pipeline=[]))
    assert ds.metainfo['classes'] == tuple(DET_CLASSES)
    assert len(ds.metainfo['seg_classes']) == 19
    info = ds.get_data_info(0)
    assert osp.isfile(info['img_path']) and osp.isfile(info['seg_map_path'])


def test_cityscapes_bad_layout(cityscapes_root, tmp_path, load_converter):
    cs = load_converter('cityscapes')
    with pytest.raises(FileNotFoundError, match='leftImg8bit/test'):
        cs.convert(cityscapes_root, str(tmp_path / 'a'), splits=['test'])
    img = osp.join(cityscapes_root, 'leftImg8bit', 'val', 'frankfurt',
                   'frankfurt_000000_000294_leftImg8bit.png')
    os.remove(img)
    with pytest.raises(FileNotFoundError, match=re.escape(img)):
        cs.convert(cityscapes_root, str(tmp_path / 'a'), splits=['val'])
    shutil.rmtree(osp.join(cityscapes_root, 'gtFine'))
    with pytest.raises(FileNotFoundError, match='gtFine/train'):
        cs.convert(cityscapes_root, str(tmp_path / 'a'), splits=['train'])


def test_cityscapes_wrong_size_instance_ids(cityscapes_root, tmp_path,
                                            load_converter):
    cs = load_converter('cityscapes')
    path = osp.join(cityscapes_root, 'gtFine', 'val', 'frankfurt',
                    'frankfurt_000000_000294_gtFine_instanceIds.png')
    cv2.imwrite(path, np.zeros((H + 1, W), np.uint16))
    with pytest.raises(ValueError, match='instanceIds'):
        cs.convert(cityscapes_root, str(tmp_path / 'a'), splits=['val'])
