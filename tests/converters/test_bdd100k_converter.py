"""tools/dataset_converters/bdd100k.py on a tiny BDD100K in its original
layout: images/100k, labels/det_20/det_{split}.json, drivable masks."""
import itertools
import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest

H, W = 40, 64
_LABEL_IDS = itertools.count(1)


def box(x1, y1, x2, y2):
    return {'x1': x1, 'y1': y1, 'x2': x2, 'y2': y2}


def label(category, b=None, **attributes):
    lab = {'id': str(next(_LABEL_IDS)),
           'category': category,
           'attributes': {'occluded': False, 'truncated': False,
                          'trafficLightColor': 'NA', **attributes},
           'manualShape': True, 'manualAttributes': True}
    if b is not None:
        lab['box2d'] = b
    return lab


FRAMES = {
    'train': [
        {'name': 'a0000001-00000001.jpg',
         'attributes': {'weather': 'clear', 'scene': 'city street',
                        'timeofday': 'daytime'},
         'timestamp': 10000,
         'labels': [
             label('car', box(10.5, 5.25, 30.75, 20.0)),
             label('pedestrian', box(0.0, 0.0, 5.0, 12.0)),
             label('traffic light', box(50.0, 1.0, 53.5, 8.0),
                   trafficLightColor='G'),
             label('person', box(40.0, 20.0, 44.0, 30.0)),  # alias
             label('other person', box(20.0, 20.0, 25.0, 30.0)),  # crowd
             label('trailer', box(30.0, 22.0, 60.0, 39.0)),       # crowd
             label('car', box(1.0, 1.0, 1.0, 9.0)),         # degenerate
             label('car'),                                  # no box2d
             label('lane', None),
         ]},
        {'name': 'a0000002-00000002.jpg', 'attributes': {},
         'timestamp': 10000},                               # no labels
        {'name': 'a0000003-00000003.jpg', 'timestamp': 10000,
         'labels': [label('bus', box(2.0, 3.0, 60.0, 35.5)),
                    label('traffic sign', box(61.0, 0.0, 63.9, 4.0),
                          crowd=True)]},                    # no mask
    ],
    'val': [
        {'name': 'b0000001-00000001.jpg', 'timestamp': 10000,
         'labels': [label('train', box(0.0, 10.0, 63.0, 30.0)),
                    label('motorcycle', box(3.0, 4.0, 9.0, 12.0)),
                    label('bicycle', box(13.0, 14.0, 19.0, 22.0)),
                    label('rider', box(13.0, 10.0, 19.0, 20.0)),
                    label('truck', box(30.0, 3.0, 50.0, 9.0))]},
    ],
}
NO_MASK = {'a0000003-00000003.jpg'}
CLASSES = ['pedestrian', 'rider', 'car', 'truck', 'bus', 'train',
           'motorcycle', 'bicycle', 'traffic light', 'traffic sign']


def drivable_mask(seed):
    mask = np.full((H, W), 2, np.uint8)
    mask[25:, 10:40] = 0
    mask[25:, 40:55] = 1
    mask[seed % H, :] = 1
    return mask


@pytest.fixture
def bdd_root(tmp_path):
    root = tmp_path / 'bdd100k'
    rng = np.random.default_rng(0)
    for split, frames in FRAMES.items():
        img_dir = root / 'images' / '100k' / split
        mask_dir = root / 'labels' / 'drivable' / 'masks' / split
        img_dir.mkdir(parents=True)
        mask_dir.mkdir(parents=True)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(img_dir / frame['name']),
                        rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
            if frame['name'] not in NO_MASK:
                cv2.imwrite(str(mask_dir / (frame['name'][:-4] + '.png')),
                            drivable_mask(i))
        det_dir = root / 'labels' / 'det_20'
        det_dir.mkdir(parents=True, exist_ok=True)
        with open(det_dir / f'det_{split}.json', 'w') as f:
            json.dump(frames, f)
    return str(root)


def expected_boxes(frame, drop_ignored=False):
    """{(class, (x, y, w, h), iscrowd)} of a frame, by hand-coded rules."""
    rename = {'person': 'pedestrian'}
    crowd_as = {'other person': 'pedestrian', 'trailer': 'truck'}
    out = set()
    for lab in frame.get('labels') or []:
        cat, crowd = lab['category'], lab['attributes'].get('crowd', False)
        cat = rename.get(cat, cat)
        if cat in crowd_as:
            if drop_ignored:
                continue
            cat, crowd = crowd_as[cat], True
        b = lab.get('box2d')
        if cat not in CLASSES or b is None or b['x2'] <= b['x1']:
            continue
        out.add((cat, (b['x1'], b['y1'], b['x2'] - b['x1'],
                       b['y2'] - b['y1']), int(crowd)))
    return out


def test_bdd100k_boxes_and_drivable(bdd_root, tmp_path, load_converter,
                                    check_coco_output):
    conv = load_converter('bdd100k')
    out = str(tmp_path / 'ann')
    summary = conv.convert(bdd_root, out, splits=['train', 'val'])
    assert summary['train']['images_without_seg'] == 1
    assert summary['train']['images_with_seg'] == 2
    assert summary['val']['images_without_seg'] == 0
    assert summary['train']['skipped_labels'] == {
        'category:lane': 1, 'degenerate_box': 1, 'no_box2d': 1}
    assert summary['train']['crowd_annotations'] == 3
    for split, frames in FRAMES.items():
        mask_dir = osp.join(bdd_root, 'labels', 'drivable', 'masks', split)
        coco = check_coco_output(
            osp.join(out, f'instances_{split}.json'),
            osp.join(bdd_root, 'images', '100k', split), mask_dir)
        assert coco.dataset['seg_classes'] == ['direct', 'alternative',
                                               'background']
        names = {c['id']: c['name'] for c in coco.dataset['categories']}
        assert [names[i] for i in sorted(names)] == CLASSES
        images = {img['file_name']: img for img in coco.dataset['images']}
        assert list(images) == [f['name'] for f in frames]
        for i, frame in enumerate(frames):
            img = images[frame['name']]
            assert (img['height'], img['width']) == (H, W)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img['id']]))
            got = {(names[a['category_id']], tuple(a['bbox']), a['iscrowd'])
                   for a in anns}
            assert got == expected_boxes(frame)
            for a in anns:
                assert a['area'] == pytest.approx(a['bbox'][2] * a['bbox'][3])
            if frame['name'] in NO_MASK:
                assert 'seg_file_name' not in img
            else:
                seg = cv2.imread(osp.join(mask_dir, img['seg_file_name']),
                                 cv2.IMREAD_UNCHANGED)
                np.testing.assert_array_equal(seg, drivable_mask(i))
    # the exact numbers, once by hand
    first = [a for a in coco_train_anns(out) if a['image_id'] == 1]
    assert first[0]['bbox'] == [10.5, 5.25, 20.25, 14.75]
    assert first[0]['category_id'] == 3


def coco_train_anns(out):
    with open(osp.join(out, 'instances_train.json')) as f:
        return json.load(f)['annotations']


def test_bdd100k_drop_ignored_and_cli(bdd_root, load_converter):
    conv = load_converter('bdd100k')
    summary = conv.main(['--root', bdd_root, '--splits', 'train',
                         '--drop-ignored', '--nproc', '2'])
    assert summary['train']['crowd_annotations'] == 1   # attributes.crowd
    with open(osp.join(bdd_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    got = {(names[a['category_id']], tuple(a['bbox']), a['iscrowd'])
           for a in coco['annotations'] if a['image_id'] == 1}
    assert got == expected_boxes(FRAMES['train'][0], drop_ignored=True)


def test_bdd100k_bad_masks(bdd_root, tmp_path, load_converter):
    conv = load_converter('bdd100k')
    mask_dir = osp.join(bdd_root, 'labels', 'drivable', 'masks', 'val')
    path = osp.join(mask_dir, 'b0000001-00000001.png')
    bad = drivable_mask(0)
    bad[0, 0] = 7
    cv2.imwrite(path, bad)
    with pytest.raises(ValueError, match=re.escape(path) + '.*7'):
        conv.convert(bdd_root, str(tmp_path / 'a'), splits=['val'])
    cv2.imwrite(path, np.dstack([drivable_mask(0)] * 3))
    with pytest.raises(ValueError, match='single-channel'):
        conv.convert(bdd_root, str(tmp_path / 'a'), splits=['val'])
    cv2.imwrite(path, drivable_mask(0)[:-1])
    with pytest.raises(ValueError, match='size'):
        conv.convert(bdd_root, str(tmp_path / 'a'), splits=['val'])


def test_bdd100k_bad_layout(bdd_root, tmp_path, load_converter):
    conv = load_converter('bdd100k')
    img = osp.join(bdd_root, 'images', '100k', 'train',
                   'a0000002-00000002.jpg')
    os.remove(img)
    with pytest.raises(FileNotFoundError, match=re.escape(img)):
        conv.convert(bdd_root, str(tmp_path / 'a'), splits=['train'])
    os.remove(osp.join(bdd_root, 'labels', 'det_20', 'det_val.json'))
    with pytest.raises(FileNotFoundError, match='det_20/det_val.json'):
        conv.convert(bdd_root, str(tmp_path / 'a'), splits=['val'])
    with pytest.raises(SystemExit, match='det_20/det_val.json'):   # CLI
        conv.main(['--root', bdd_root, '--splits', 'val'])
    with pytest.raises(FileNotFoundError, match='images/100k/test'):
        conv.convert(bdd_root, str(tmp_path / 'a'), splits=['test'])
    with pytest.raises(FileNotFoundError, match='nowhere'):
        conv.convert(osp.join(bdd_root, 'nowhere'), splits=['val'])
